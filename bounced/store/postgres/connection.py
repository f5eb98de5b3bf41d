"""Opening the PostgreSQL database: the pool, migrations under an advisory lock, transactions.

`PostgresConnection` is the base of every PostgreSQL store mixin (the role of
store/sqlite/connection.py). What a mixin may use:

- `async with self._transaction() as conn:` one pooled connection inside a transaction
  (READ COMMITTED), committed on exit. Several nodes write at once: make every change one
  statement that is right under concurrency (INSERT ... ON CONFLICT, UPDATE ... WHERE,
  `SELECT ... FOR UPDATE`), never a read in Python followed by a write that trusts it.
- `await self._in_transaction(work)`: the same for `work(conn)`, run again (a few times) when
  PostgreSQL aborted it for a deadlock or a serialization failure, which concurrent nodes
  can cause; use it for writes that lock several rows.
- `await self._fetch(sql, *args)` / `_fetchrow` / `_fetchval` / `_execute`: one statement on
  a pooled connection (autocommit).
- `self._config`, `self.fold_local_case`, `self._address(address)`, `self.node`.
- Times are BIGINT microseconds since the epoch, UTC (bounced.store.timecodec), like SQLite,
  so row converters are shared.

Errors leaving these helpers are StoreError (the server unreachable, a constraint ...).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg

from bounced.config.storage import StorageConfig
from bounced.errors import StoreError, StoreUnavailable
from bounced.logfmt import kv
from bounced.model import address_key
from bounced.store.migration import available_migrations
from bounced.store.postgres.unavailable import unreachable

__all__ = ["PostgresConnection", "connect_check", "connect_problem", "store_errors"]

log = logging.getLogger("bounced.store")

T = TypeVar("T")

# pg_advisory_lock key of the migration run: one node migrates, the others wait.
_MIGRATION_LOCK = 0x626F756E636564  # "bounced"
_RETRIES = 5  # attempts of `_in_transaction` after deadlocks / serialization failures
_CONNECT_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


@asynccontextmanager
async def store_errors(what: str) -> AsyncIterator[None]:
    """Raise what asyncpg (or the network) raised inside as StoreError("<what>: ...")."""
    try:
        yield
    except StoreError:
        raise
    except (TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
        error = StoreUnavailable if unreachable(exc) else StoreError
        raise error(f"{what}: {type(exc).__name__}: {exc}") from exc


def _retryable(exc: BaseException) -> bool:
    cause = exc.__cause__ if isinstance(exc, StoreError) else exc
    return isinstance(cause, asyncpg.DeadlockDetectedError | asyncpg.SerializationError)


async def connect_problem(dsn: str, timeout: float = 5.0) -> str | None:
    """One line saying why the server at `dsn` (empty: PG* variables) cannot be used, or None."""
    found = await connect_check(dsn, timeout)
    return None if found is None else found[0]


async def connect_check(dsn: str, timeout: float = 5.0) -> tuple[str, bool] | None:
    """`connect_problem`, and whether the problem is only that the server does not answer
    now (refused, timed out, starting: `unreachable`) rather than a wrong setting."""
    try:
        conn = await asyncpg.connect(dsn or None, timeout=timeout)
    except _CONNECT_ERRORS as exc:
        line = f"cannot connect to PostgreSQL ({_describe(dsn)}): {type(exc).__name__}: {exc}"
        return line, unreachable(exc)
    await conn.close()
    return None


def _describe(dsn: str) -> str:
    """The dsn without its password, for messages."""
    if not dsn:
        return "PG* environment variables"
    head, sep, tail = dsn.partition("@")
    if sep and ":" in head.split("//", 1)[-1]:
        scheme, _, userinfo = head.partition("//")
        return f"{scheme}//{userinfo.split(':', 1)[0]}:***@{tail}"
    return dsn


class PostgresConnection:
    """The shared base of the PostgreSQL store mixins (see the module docstring)."""

    _pool: asyncpg.Pool

    def __init__(self, config: StorageConfig) -> None:
        self._config = config
        self._closed = False
        # [policy] local_part_case: how recipient-side addresses are compared (model.address_key)
        self.fold_local_case = True

    def _address(self, address: str) -> str:
        """The recipient-side normal form of `address` (suppressions, profiles, events)."""
        return address_key(address, self.fold_local_case)

    @property
    def node(self) -> str:
        """This node's name ([storage] node): the owner of the intake rows it moves in."""
        return self._config.node

    @property
    def dsn(self) -> str:
        return _describe(self._config.dsn)

    # --- lifecycle -----------------------------------------------------------------------

    async def connect(self) -> None:
        """Open the pool and bring the schema up to date."""
        try:
            self._pool = await asyncpg.create_pool(
                self._config.dsn or None,
                min_size=1,
                max_size=self._config.pool_size,
                timeout=self._config.busy_timeout,
                command_timeout=None,
            )
        except _CONNECT_ERRORS as exc:
            error = StoreUnavailable if unreachable(exc) else StoreError
            raise error(f"cannot connect to PostgreSQL ({self.dsn}): {type(exc).__name__}: {exc}") from exc
        try:
            await self._migrate()
        except BaseException:
            await self._pool.close()
            raise

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        pool = getattr(self, "_pool", None)
        if pool is not None:
            await pool.close()

    # --- migrations ----------------------------------------------------------------------

    async def schema_version(self) -> int:
        async with store_errors("query failed"):
            exists = await self._pool.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
            if not exists:
                return 0
            return int(await self._pool.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations"))

    async def _migrate(self) -> None:
        migrations = available_migrations("bounced.store.postgres")
        latest = migrations[-1].version if migrations else 0
        async with store_errors("migration failed"), self._pool.acquire() as conn:
            # Session lock: a second node starting now waits here, then finds nothing to do.
            await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
            try:
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                    " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
                )
                done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
                if done and max(done) > latest:
                    raise StoreError(
                        f"database {self.dsn} has schema version {max(done)}, newer than this bounced "
                        f"understands ({latest}); upgrade bounced or use a matching database"
                    )
                for migration in migrations:
                    if migration.version in done:
                        continue
                    fields = kv(version=migration.version, name=migration.name, dsn=self.dsn)
                    log.info("event=migrate", extra=fields)
                    async with conn.transaction():
                        await conn.execute(migration.sql)  # simple protocol: many statements
                        await conn.execute(
                            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                            migration.version,
                            migration.name,
                        )
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)

    # --- writing -------------------------------------------------------------------------

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection inside a transaction; committed on exit, rolled back on an
        error, which leaves as StoreError (its __cause__ the asyncpg error)."""
        if self._closed:
            raise StoreError("store is closed")
        async with store_errors("database write failed"), self._pool.acquire() as conn, conn.transaction():
            yield conn

    async def _in_transaction(self, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """`work(conn)` in a transaction, retried when PostgreSQL aborted it for a deadlock or
        a serialization failure (concurrent nodes); `work` must be safe to run again."""
        for attempt in range(1, _RETRIES + 1):
            try:
                async with self._transaction() as conn:
                    return await work(conn)
            except StoreError as exc:
                if attempt == _RETRIES or not _retryable(exc):
                    raise
                log.warning("event=transaction_retry", extra=kv(attempt=attempt, error=str(exc)))
                await asyncio.sleep(0.01 * attempt)
        raise AssertionError("unreachable")

    async def _execute(self, sql: str, *args: Any) -> str:
        async with store_errors("database write failed"):
            return str(await self._pool.execute(sql, *args))

    # --- reading -------------------------------------------------------------------------

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        async with store_errors("query failed"):
            return list(await self._pool.fetch(sql, *args))

    async def _fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        async with store_errors("query failed"):
            return await self._pool.fetchrow(sql, *args)

    async def _fetchval(self, sql: str, *args: Any) -> Any:
        async with store_errors("query failed"):
            return await self._pool.fetchval(sql, *args)
