"""The intake spool: received bounce messages, durable before the listener answers 250."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import aiosqlite

from bounced.errors import SpoolError, StoreError
from bounced.model import IntakeMessage, IntakeState
from bounced.store.sqlite.connection import SQLiteConnection, from_micros, to_micros

__all__ = ["PENDING_BATCH_BYTES", "IntakeMixin"]

_COLUMNS = "id, received_at, mail_from, rcpt_tos, peer, raw, state, attempts, error"
# Hashing a big message would stall the event loop; above this size it runs in a thread.
_HASH_INLINE_LIMIT = 256 * 1024
PENDING_BATCH_BYTES = 64 * 1024 * 1024


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
    )


class IntakeMixin(SQLiteConnection):
    async def spool(
        self, raw: bytes, mail_from: str, rcpt_tos: Sequence[str], peer: str, received_at: datetime
    ) -> int:
        """Store a received message and return its id once the commit is on disk.

        Concurrent callers share one transaction (group commit). Raises SpoolError when the
        message could not be made durable: the client must then get a 4xx, not 250.
        """
        if len(raw) > _HASH_INLINE_LIMIT:
            digest = await asyncio.to_thread(lambda: hashlib.sha256(raw).hexdigest())
        else:
            digest = hashlib.sha256(raw).hexdigest()
        try:
            params = (to_micros(received_at), mail_from, json.dumps(list(rcpt_tos)), peer, raw, digest)
        except (StoreError, TypeError, ValueError) as exc:
            raise SpoolError(f"message from {mail_from!r} not spooled: {exc}") from exc

        async def insert(conn: aiosqlite.Connection) -> int:
            cursor = await conn.execute(
                "INSERT INTO intake (received_at, mail_from, rcpt_tos, peer, raw, sha256)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                params,
            )
            assert cursor.lastrowid is not None
            return int(cursor.lastrowid)

        try:
            return await self._group_commit(insert)
        except (StoreError, sqlite3.Error, OSError) as exc:
            raise SpoolError(f"message from {mail_from!r} not spooled: {exc}") from exc

    async def pending_intake(self, limit: int = 100, after_id: int = 0) -> list[IntakeMessage]:
        """Spooled messages not yet applied, oldest first (ids greater than `after_id`).

        At most `limit` messages and, beyond the first, at most `PENDING_BATCH_BYTES` of raw
        bytes: a backlog of big messages must not be loaded into memory at once. Callers
        page with `after_id`, so a short batch only means "ask again"."""
        sized = await self._fetchall(
            "SELECT id, length(raw) FROM intake WHERE state = 'pending' AND id > ? ORDER BY id LIMIT ?",
            (after_id, limit),
        )
        ids: list[int] = []
        total = 0
        for intake_id, size in sized:
            if ids and total + int(size) > PENDING_BATCH_BYTES:
                break
            ids.append(int(intake_id))
            total += int(size)
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
        """Set an intake message's state (applied / unparseable / failed / back to pending)."""
        async with self._transaction() as conn:
            cursor = await conn.execute(
                "UPDATE intake SET state = ?, error = ?, processed_at = ? WHERE id = ?",
                (state.value, error, None if now is None else to_micros(now), intake_id),
            )
            if cursor.rowcount == 0:
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

    async def intake_counts(self) -> dict[IntakeState, int]:
        """How many intake messages are in each state (every state present, zero if none)."""
        rows = await self._fetchall("SELECT state, COUNT(*) FROM intake GROUP BY state")
        counts = dict.fromkeys(IntakeState, 0)
        for state, count in rows:
            counts[IntakeState(state)] = int(count)
        return counts
