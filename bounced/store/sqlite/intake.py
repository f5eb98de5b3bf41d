"""The intake spool: received bounce messages, durable before the listener answers 250."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiosqlite

from bounced.clock import utcnow
from bounced.config.storage import StorageConfig
from bounced.errors import SpoolError, SpoolFullError, StoreError
from bounced.model import IntakeMessage, IntakeState, MessageType
from bounced.store.base import IntakeStats, IntakeSummary
from bounced.store.sqlite.connection import SQLiteConnection, from_micros, from_micros_opt, to_micros

__all__ = ["PENDING_BATCH_BYTES", "IntakeMixin", "adoption_row", "bounded_ids", "raw_sha256"]

_COLUMNS = "id, received_at, mail_from, rcpt_tos, peer, raw, state, attempts, error, raw_pruned_at"
# length(raw) reads the record header only, never the bytes.
_SUMMARY_COLUMNS = (
    "id, received_at, mail_from, rcpt_tos, peer, state, attempts, error, length(raw),"
    " message_type, raw_pruned_at"
)
# Hashing a big message would stall the event loop; above this size it runs in a thread.
_HASH_INLINE_LIMIT = 256 * 1024
PENDING_BATCH_BYTES = 64 * 1024 * 1024
_INSERT_CHUNK = 500  # rows per INSERT: 6 parameters each, well under SQLite's limit


async def _insert_intake(
    conn: aiosqlite.Connection, rows: Sequence[tuple[Any, ...]]
) -> list[int | StoreError]:
    """Insert intake rows, one statement per chunk; per row its id, in order, or the error
    when that row breaks a constraint (SQLite undoes just the failed statement, so the
    chunk is then inserted row by row and the transaction goes on for the others)."""
    results: list[int | StoreError] = []
    for start in range(0, len(rows), _INSERT_CHUNK):
        chunk = rows[start : start + _INSERT_CHUNK]
        try:
            results.extend(await _insert_rows(conn, chunk))
        except sqlite3.IntegrityError as exc:
            if len(chunk) == 1:
                results.append(StoreError(f"database write failed: {exc}"))
                continue
            for row in chunk:
                try:
                    results.extend(await _insert_rows(conn, [row]))
                except sqlite3.IntegrityError as row_exc:
                    results.append(StoreError(f"database write failed: {row_exc}"))
    return results


async def _insert_rows(conn: aiosqlite.Connection, rows: Sequence[tuple[Any, ...]]) -> list[int]:
    values = ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(rows))
    returned = await conn.execute_fetchall(
        "INSERT INTO intake (received_at, mail_from, rcpt_tos, peer, raw, sha256)"
        f" VALUES {values} RETURNING id",
        [value for row in rows for value in row],
    )
    # RETURNING gives rows in no promised order; ids grow in VALUES order (max + 1, under
    # the write lock), so sorted they line up with the rows.
    ids = sorted(int(r[0]) for r in returned)
    if len(ids) != len(rows):
        raise StoreError(f"intake insert returned {len(ids)} ids for {len(rows)} rows")
    return ids


def bounded_ids(sized: Sequence[Sequence[Any]]) -> list[int]:
    """The first ids of (id, size) rows whose sizes add up to at most PENDING_BATCH_BYTES
    (always at least one): a batch of pending messages that fits in memory."""
    ids: list[int] = []
    total = 0
    for intake_id, size in sized:
        if ids and total + int(size) > PENDING_BATCH_BYTES:
            break
        ids.append(int(intake_id))
        total += int(size)
    return ids


async def raw_sha256(raw: bytes) -> str:
    """The intake's hash of a message (dedup identity); big messages are hashed in a thread."""
    if len(raw) > _HASH_INLINE_LIMIT:
        return await asyncio.to_thread(lambda: hashlib.sha256(raw).hexdigest())
    return hashlib.sha256(raw).hexdigest()


async def adoption_row(node: str, message: IntakeMessage) -> tuple[Any, ...]:
    """`adopt_intake`'s insert parameters: received_at, mail_from, rcpt_tos, peer, raw,
    sha256, node, local_id."""
    return (
        to_micros(message.received_at),
        message.mail_from,
        json.dumps(list(message.rcpt_tos)),
        message.peer,
        message.raw,
        await raw_sha256(message.raw),
        node,
        message.id,
    )


_NO_SPACE_ERRNOS = {errno.ENOSPC, errno.EDQUOT}


def _no_space(exc: BaseException | None) -> bool:
    """Did the write fail for want of space? SQLite says SQLITE_FULL for a full disk and for
    `max_page_count`; the store wraps it in StoreError, so the cause chain is searched."""
    seen = 0
    while exc is not None and seen < 8:
        code = getattr(exc, "sqlite_errorcode", None) if isinstance(exc, sqlite3.Error) else None
        if code is not None and code & 0xFF == sqlite3.SQLITE_FULL:  # primary code of an extended one
            return True
        if isinstance(exc, OSError) and exc.errno in _NO_SPACE_ERRNOS:
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _row_to_intake(row: Sequence[Any]) -> IntakeMessage:
    return IntakeMessage(
        id=int(row[0]),
        received_at=from_micros(row[1]),
        mail_from=row[2],
        rcpt_tos=tuple(json.loads(row[3])),
        peer=row[4],
        raw=bytes(row[5]),
        state=IntakeState(row[6]),
        attempts=int(row[7]),
        error=row[8],
        raw_pruned_at=from_micros_opt(row[9]),
    )


def _row_to_summary(row: Sequence[Any]) -> IntakeSummary:
    return IntakeSummary(
        id=int(row[0]),
        received_at=from_micros(row[1]),
        mail_from=row[2],
        rcpt_tos=tuple(json.loads(row[3])),
        peer=row[4],
        state=IntakeState(row[5]),
        attempts=int(row[6]),
        error=row[7],
        size=int(row[8]),
        message_type=None if row[9] is None else MessageType(row[9]),
        raw_pruned_at=from_micros_opt(row[10]),
    )


@dataclass(slots=True)
class _WaitingSpool:
    params: tuple[Any, ...]
    future: asyncio.Future[int]


class IntakeMixin(SQLiteConnection):
    def __init__(self, config: StorageConfig) -> None:
        super().__init__(config)
        # Spools waiting for the insert that will carry them (see `spool`).
        self._spools_waiting: list[_WaitingSpool] = []
        self._spool_tasks: set[asyncio.Task[None]] = set()

    async def spool(
        self, raw: bytes, mail_from: str, rcpt_tos: Sequence[str], peer: str, received_at: datetime
    ) -> int:
        """Store a received message and return its id once the commit is on disk.

        Concurrent callers share one transaction (group commit) and one INSERT statement:
        the messages that arrive while the previous commit is in flight are inserted
        together, one round trip to the database thread for all of them. Raises SpoolError
        when the message could not be made durable: the client must then get a 4xx, not 250.
        """
        digest = await raw_sha256(raw)
        try:
            params = (to_micros(received_at), mail_from, json.dumps(list(rcpt_tos)), peer, raw, digest)
        except (StoreError, TypeError, ValueError) as exc:
            raise SpoolError(f"message from {mail_from!r} not spooled: {exc}") from exc
        if self._closed:
            raise SpoolError(f"message from {mail_from!r} not spooled: store is closed")
        waiting = _WaitingSpool(params, asyncio.get_running_loop().create_future())
        self._spools_waiting.append(waiting)
        if len(self._spools_waiting) == 1:  # the first of a new insert: queue it
            task = asyncio.create_task(self._commit_spools(self._spools_waiting))
            self._spool_tasks.add(task)
            task.add_done_callback(self._spool_tasks.discard)
        try:
            return await waiting.future
        except (StoreError, sqlite3.Error, OSError) as exc:
            error = SpoolFullError if _no_space(exc) else SpoolError
            raise error(f"message from {mail_from!r} not spooled: {exc}") from exc

    async def close(self) -> None:
        """Let spools already accepted commit first (then close the connections)."""
        while self._spool_tasks:
            await asyncio.wait(set(self._spool_tasks))
        await super().close()

    async def _commit_spools(self, batch: list[_WaitingSpool]) -> None:
        """Insert `batch` in a group-committed transaction, then answer each spool. A task
        of its own, so a caller that gives up (cancelled) cannot strand the others."""

        async def insert(conn: aiosqlite.Connection) -> list[tuple[_WaitingSpool, int | StoreError]]:
            if self._spools_waiting is batch:  # later spools start the next insert
                self._spools_waiting = []
            # Re-run as a whole when the shared transaction failed and is retried alone.
            live = [w for w in batch if not w.future.done()]  # a caller that gave up: skipped
            return list(zip(live, await _insert_intake(conn, [w.params for w in live]), strict=True))

        try:
            inserted = await self._group_commit(insert)
        except BaseException as exc:
            if self._spools_waiting is batch:
                self._spools_waiting = []
            error = exc if isinstance(exc, Exception) else StoreError(f"spool stopped: {type(exc).__name__}")
            for waiting in batch:
                if not waiting.future.done():
                    waiting.future.set_exception(error)
            if not isinstance(exc, Exception):
                raise
            return
        for waiting, result in inserted:
            if waiting.future.done():
                continue
            if isinstance(result, StoreError):
                waiting.future.set_exception(result)
            else:
                waiting.future.set_result(result)

    async def adopt_intake(
        self, node: str, messages: Sequence[IntakeMessage]
    ) -> dict[int, tuple[int, IntakeState]]:
        """Take over `node`'s locally spooled `messages` (their `id` is the local id), each
        inserted as pending unless (node, local id) is here already; per local id its id
        and state here (this file as the central store of several nodes)."""
        rows = [await adoption_row(node, m) for m in messages]
        found: dict[int, tuple[int, IntakeState]] = {}
        async with self._transaction() as conn:
            await conn.executemany(
                "INSERT INTO intake (received_at, mail_from, rcpt_tos, peer, raw, sha256, node, local_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (node, local_id) DO NOTHING",
                rows,
            )
            local_ids = [m.id for m in messages]
            for start in range(0, len(local_ids), _INSERT_CHUNK):
                chunk = local_ids[start : start + _INSERT_CHUNK]
                for local_id, central, state in await conn.execute_fetchall(
                    "SELECT local_id, id, state FROM intake"
                    f" WHERE node = ? AND local_id IN ({', '.join('?' * len(chunk))})",
                    [node, *chunk],
                ):
                    found[int(local_id)] = (int(central), IntakeState(state))
        return found

    async def pending_intake(self, limit: int = 100, after_id: int = 0) -> list[IntakeMessage]:
        """Spooled messages not yet applied, oldest first (ids greater than `after_id`).

        At most `limit` messages and, beyond the first, at most `PENDING_BATCH_BYTES` of raw
        bytes: a backlog of big messages must not be loaded into memory at once. Callers
        page with `after_id`, so a short batch only means "ask again"."""
        sized = await self._fetchall(
            "SELECT id, length(raw) FROM intake WHERE state = 'pending' AND id > ? ORDER BY id LIMIT ?",
            (after_id, limit),
        )
        ids = bounded_ids(sized)
        if not ids:
            return []
        rows = await self._fetchall(
            f"SELECT {_COLUMNS} FROM intake WHERE id BETWEEN ? AND ? AND state = 'pending' ORDER BY id",
            (ids[0], ids[-1]),
        )
        return [_row_to_intake(r) for r in rows]

    async def get_intake(self, intake_id: int) -> IntakeMessage | None:
        rows = await self._fetchall(f"SELECT {_COLUMNS} FROM intake WHERE id = ?", (intake_id,))
        return _row_to_intake(rows[0]) if rows else None

    async def mark_intake(
        self, intake_id: int, state: IntakeState, error: str | None = None, now: datetime | None = None
    ) -> None:
        """Set an intake message's state (applied / unparseable / failed / back to pending).
        A message whose raw bytes were pruned cannot go back to pending: nothing to parse."""
        async with self._transaction() as conn:
            cursor = await conn.execute(
                "UPDATE intake SET state = ?, error = ?, processed_at = ?"
                " WHERE id = ? AND (? != 'pending' OR raw_pruned_at IS NULL)",
                (state.value, error, None if now is None else to_micros(now), intake_id, state.value),
            )
            if cursor.rowcount == 0:
                exists = await conn.execute_fetchall("SELECT 1 FROM intake WHERE id = ?", (intake_id,))
                if exists:
                    raise StoreError(f"intake message {intake_id}: raw bytes pruned, cannot process it again")
                raise StoreError(f"no intake message with id {intake_id}")

    async def note_intake_attempt(self, intake_id: int, error: str) -> int:
        """Count a failed processing attempt (state stays as is); returns attempts so far."""
        async with self._transaction() as conn:
            cursor = await conn.execute(
                "UPDATE intake SET attempts = attempts + 1, error = ? WHERE id = ? RETURNING attempts",
                (error, intake_id),
            )
            row = await cursor.fetchone()
            await cursor.close()
        if row is None:
            raise StoreError(f"no intake message with id {intake_id}")
        return int(row[0])

    async def prune_intake_raw(self, older_than: datetime, limit: int, now: datetime | None = None) -> int:
        """Drop the raw bytes of at most `limit` applied messages received before
        `older_than`, oldest first, in one transaction; returns how many. The rows stay
        (events reference them; sha256 keeps dedup working) with `raw_pruned_at` = `now`
        (default: the wall clock). Pending, failed and unparseable messages are never touched.

        Callers loop until it returns less than `limit`: a small `limit` keeps each
        transaction (and the wait of the listener's group commit behind it) short."""
        if limit <= 0:
            return 0
        stamp = to_micros(now if now is not None else utcnow())
        async with self._transaction() as conn:
            # The subquery walks the partial index intake_raw_prunable (0005), oldest first.
            cursor = await conn.execute(
                "UPDATE intake SET raw = x'', raw_pruned_at = ? WHERE id IN ("
                " SELECT id FROM intake WHERE state = 'applied' AND raw_pruned_at IS NULL"
                " AND received_at < ? ORDER BY received_at LIMIT ?)",
                (stamp, to_micros(older_than), limit),
            )
            return int(cursor.rowcount)

    async def intake_stats(self) -> IntakeStats:
        """Messages per state, raw bytes still kept, and messages whose bytes were pruned.
        Scans the table. Two queries: length(raw) alone reads only the record header, but
        beside columns stored after `raw` it loads the bytes (4x the CPU in one query)."""
        rows = await self._fetchall("SELECT state, COUNT(*), COUNT(raw_pruned_at) FROM intake GROUP BY state")
        size = await self._fetchone("SELECT COALESCE(SUM(length(raw)), 0) FROM intake")
        counts = dict.fromkeys(IntakeState, 0)
        pruned = 0
        for state, count, pruned_here in rows:
            counts[IntakeState(state)] = int(count)
            pruned += int(pruned_here)
        return IntakeStats(counts=counts, raw_bytes=int(size[0]) if size else 0, pruned=pruned)

    async def list_intake(
        self, state: IntakeState, limit: int = 100, after_id: int = 0
    ) -> list[IntakeSummary]:
        """Messages in `state` with id > `after_id`, oldest first, at most `limit`, without
        their bytes. Pending and quarantined states walk a partial index (0001, 0020), which
        SQLite uses only when the state is a literal in the statement, not a parameter."""
        state = IntakeState(state)  # one of the enum's values: safe to write into the SQL
        rows = await self._fetchall(
            f"SELECT {_SUMMARY_COLUMNS} FROM intake WHERE state = '{state.value}' AND id > ?"
            " ORDER BY id LIMIT ?",
            (after_id, limit),
        )
        return [_row_to_summary(r) for r in rows]
