"""Opening the SQLite database: pragmas, migrations, the writer lock and group commit.

`SQLiteConnection` is the base of every store mixin. What a mixin may use:

- `self._writer`: the one aiosqlite connection that writes (autocommit mode: transactions are
  explicit). Use it only inside `async with self._transaction() as conn:` or from work handed
  to `await self._group_commit(work)`.
- `self._reader`: a read-only connection for queries (WAL: readers never block the writer and
  see every committed transaction). `await self._fetchall(sql, params)` / `_fetchone` wrap it.
- `to_micros(dt)` / `from_micros(n)`: times are INTEGER microseconds since the epoch, UTC.

Durability: WAL with `synchronous=FULL` fsyncs the WAL on every commit, so once a transaction
method returns, the bytes survive a power cut. Group commit keeps that affordable: callers
that arrive while a commit is in flight share the next transaction and its single fsync.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import aiosqlite

from bounced.config.storage import StorageConfig
from bounced.errors import StoreError
from bounced.logfmt import kv
from bounced.model import address_key
from bounced.preflight import database_problem
from bounced.store.migration import Migration, available_migrations
from bounced.store.timecodec import from_micros, from_micros_opt, to_micros, to_micros_opt

__all__ = [
    "Migration",
    "SQLiteConnection",
    "available_migrations",
    "from_micros",
    "from_micros_opt",
    "split_statements",
    "to_micros",
    "to_micros_opt",
]

log = logging.getLogger("bounced.store")

T = TypeVar("T")
Work = Callable[[aiosqlite.Connection], Awaitable[Any]]


def split_statements(script: str) -> list[str]:
    """Split a SQL script into statements (sqlite3 knows where triggers end)."""
    statements: list[str] = []
    current: list[str] = []
    for line in script.splitlines(keepends=True):
        current.append(line)
        text = "".join(current)
        if sqlite3.complete_statement(text):
            stripped = _strip_comments(text)
            if stripped:
                statements.append(text.strip())
            current = []
    if _strip_comments("".join(current)):
        raise StoreError(f"migration ends inside a statement: {''.join(current).strip()[:80]!r}")
    return statements


def _strip_comments(text: str) -> str:
    lines = [ln.split("--", 1)[0] for ln in text.splitlines()]
    return "".join(lines).strip().strip(";").strip()


class SQLiteConnection:
    """The shared base of the SQLite store mixins (see the module docstring)."""

    _writer: aiosqlite.Connection
    _reader: aiosqlite.Connection

    def __init__(self, config: StorageConfig) -> None:
        self._config = config
        self._path = config.path
        self._write_lock = asyncio.Lock()
        self._group_queue: list[tuple[Work, asyncio.Future[Any]]] = []
        self._group_task: asyncio.Task[None] | None = None
        self._closed = False
        self.group_commits = 0  # shared transactions committed by `_group_commit` (benchmarks)
        # [policy] local_part_case: how recipient-side addresses are compared (model.address_key)
        self.fold_local_case = True

    def _address(self, address: str) -> str:
        """The recipient-side normal form of `address` (suppressions, profiles, events)."""
        return address_key(address, self.fold_local_case)

    @property
    def path(self) -> str:
        return self._path

    # --- lifecycle -----------------------------------------------------------------------

    async def connect(self) -> None:
        """Open both connections and bring the schema up to date."""
        if self._path != ":memory:":
            problem = database_problem(self._path)  # one clear line: permission, not a file ...
            if problem:
                raise StoreError(problem)
        try:
            self._writer = await self._connect()
            await self._migrate()
            if self._path == ":memory:":
                self._reader = self._writer
            else:
                self._reader = await self._connect()
                await self._reader.execute("PRAGMA query_only = ON")
        except sqlite3.Error as exc:
            await self._close_connections()
            raise StoreError(f"cannot open database {self._path}: {exc}") from exc
        except BaseException:
            await self._close_connections()
            raise

    async def _connect(self) -> aiosqlite.Connection:
        conn = aiosqlite.connect(
            self._path, timeout=self._config.busy_timeout, isolation_level=None, check_same_thread=False
        )
        try:
            await conn
        except BaseException:
            # aiosqlite stops its thread by a future on this loop: wait for it, or the thread
            # reports to a closed loop later ("RuntimeError: Event loop is closed").
            await asyncio.to_thread(conn._thread.join, 5)
            raise
        try:
            await conn.execute(f"PRAGMA busy_timeout = {int(self._config.busy_timeout * 1000)}")
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute("PRAGMA synchronous = FULL")
            await conn.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            await conn.close()
            raise
        return conn

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        while self._group_task is not None and not self._group_task.done():
            await asyncio.wait([self._group_task])  # let queued spools commit; never raises
        await self._close_connections()

    async def _close_connections(self) -> None:
        reader = getattr(self, "_reader", None)
        writer = getattr(self, "_writer", None)
        if reader is not None and reader is not writer:
            await reader.close()
        if writer is not None:
            await writer.close()

    # --- migrations ----------------------------------------------------------------------

    async def schema_version(self) -> int:
        row = await (await self._writer.execute("PRAGMA user_version")).fetchone()
        return int(row[0]) if row else 0

    async def _migrate(self) -> None:
        migrations = available_migrations()
        latest = migrations[-1].version if migrations else 0
        if await self.schema_version() > latest:
            raise StoreError(self._too_new(await self.schema_version(), latest))
        if await self.schema_version() == latest:
            return
        # BEGIN IMMEDIATE takes the write lock, so two processes starting at once migrate once.
        async with self._transaction() as conn:
            current = await self.schema_version()
            if current > latest:
                raise StoreError(self._too_new(current, latest))
            for migration in migrations:
                if migration.version <= current:
                    continue
                log.info(
                    "event=migrate",
                    extra=kv(version=migration.version, name=migration.name, path=self._path),
                )
                for statement in split_statements(migration.sql):
                    await conn.execute(statement)
                await conn.execute(f"PRAGMA user_version = {migration.version}")

    def _too_new(self, found: int, latest: int) -> str:
        return (
            f"database {self._path} has schema version {found}, newer than this bounced "
            f"understands ({latest}); upgrade bounced or use a matching database"
        )

    # --- writing -------------------------------------------------------------------------

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction on the writer connection; committed (and fsync'd) on exit.

        A sqlite3 error leaving it (locked past busy_timeout, constraint, disk full) is
        rolled back and raised as StoreError."""
        try:
            async with self._locked_transaction() as conn:
                yield conn
        except sqlite3.Error as exc:
            raise StoreError(f"database write failed: {exc}") from exc

    @asynccontextmanager
    async def _locked_transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._write_lock:
            try:
                await self._writer.execute("BEGIN IMMEDIATE")
            except BaseException:  # cancelled while BEGIN was queued: it may still run
                await self._rollback()
                raise
            try:
                yield self._writer
            except BaseException:
                await self._rollback()
                raise
            try:
                await self._writer.execute("COMMIT")
            except BaseException:
                await self._rollback()
                raise

    async def _rollback(self) -> None:
        # Always queued, never skipped on `in_transaction`: after a cancellation the BEGIN or
        # a statement may still be waiting in the connection's thread, ahead of this ROLLBACK.
        try:
            await asyncio.shield(self._writer.execute("ROLLBACK"))
        except sqlite3.OperationalError as exc:
            if "no transaction is active" not in str(exc):
                log.error("event=rollback_failed", extra=kv(error=str(exc)))
        except sqlite3.Error as exc:  # the original error matters more; keep it
            log.error("event=rollback_failed", extra=kv(error=str(exc)))

    async def _group_commit(self, work: Callable[[aiosqlite.Connection], Awaitable[T]]) -> T:
        """Run `work(conn)` in a transaction shared with other concurrent callers.

        Returns only after the shared transaction has committed. If the shared transaction
        fails, each piece of work is retried alone, so one bad item cannot sink the others.
        """
        if self._closed:
            raise StoreError("store is closed")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._group_queue.append((work, future))
        if self._group_task is None or self._group_task.done():
            self._group_task = asyncio.create_task(self._drain_group())
        return await future

    async def _drain_group(self) -> None:
        batch: list[tuple[Work, asyncio.Future[Any]]] = []
        try:
            while self._group_queue:
                batch, self._group_queue = self._group_queue, []
                await self._commit_batch(batch)
        except BaseException as exc:  # cancelled (loop shutting down): nobody may hang
            pending, self._group_queue = [*batch, *self._group_queue], []
            self._fail_all(pending, StoreError(f"store writer stopped: {type(exc).__name__}"))
            raise

    async def _commit_batch(self, batch: list[tuple[Work, asyncio.Future[Any]]]) -> None:
        batch = [(w, f) for w, f in batch if not f.done()]  # caller gave up (cancelled)
        if not batch:
            return
        results: list[Any] = []
        try:
            async with self._transaction() as conn:
                for work, _ in batch:
                    results.append(await work(conn))
        except Exception as exc:
            if len(batch) == 1:
                self._fail_all(batch, exc)
            else:
                await self._run_singly(batch)
            return
        self.group_commits += 1
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def _run_singly(self, batch: Iterable[tuple[Work, asyncio.Future[Any]]]) -> None:
        for work, future in batch:
            try:
                async with self._transaction() as conn:
                    result = await work(conn)
            except Exception as exc:
                if not future.done():
                    future.set_exception(_as_store_error(exc))
            else:
                if not future.done():
                    future.set_result(result)

    def _fail_all(self, batch: Sequence[tuple[Work, asyncio.Future[Any]]], exc: BaseException) -> None:
        for _, future in batch:
            if not future.done():
                future.set_exception(_as_store_error(exc))

    # --- reading -------------------------------------------------------------------------

    async def _fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row | tuple[Any, ...]]:
        try:
            return list(await self._reader.execute_fetchall(sql, params))
        except sqlite3.Error as exc:
            raise StoreError(f"query failed: {exc}") from exc

    async def _fetchone(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        rows = await self._fetchall(sql, params)
        return tuple(rows[0]) if rows else None


def _as_store_error(exc: BaseException) -> BaseException:
    if isinstance(exc, StoreError) or not isinstance(exc, sqlite3.Error):
        return exc
    error = StoreError(f"database write failed: {exc}")
    error.__cause__ = exc
    return error
