"""The intake table on PostgreSQL: messages moved in from the nodes' local spools (or spooled
here directly), and their processing state.

With several nodes, each node answers 250 after its own local SQLite commit and moves its
spooled messages here with `adopt_intake`, exactly once per (node, local id)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from bounced.clock import utcnow
from bounced.errors import SpoolError, StoreError
from bounced.model import IntakeMessage, IntakeState
from bounced.store.base import IntakeStats, IntakeSummary
from bounced.store.postgres.connection import PostgresConnection
from bounced.store.postgres.sql import rowcount
from bounced.store.sqlite.intake import (
    _row_to_intake,
    _row_to_summary,
    adoption_row,
    bounded_ids,
    raw_sha256,
)
from bounced.store.timecodec import to_micros

__all__ = ["IntakeMixin"]

_COLUMNS = "id, received_at, mail_from, rcpt_tos, peer, raw, state, attempts, error, raw_pruned_at"
_SUMMARY_COLUMNS = (
    "id, received_at, mail_from, rcpt_tos, peer, state, attempts, error, octet_length(raw),"
    " message_type, raw_pruned_at"
)


class IntakeMixin(PostgresConnection):
    async def spool(
        self, raw: bytes, mail_from: str, rcpt_tos: Sequence[str], peer: str, received_at: datetime
    ) -> int:
        """Store a received message here directly (no local spool); its id once committed."""
        digest = await raw_sha256(raw)
        try:
            params = (to_micros(received_at), mail_from, json.dumps(list(rcpt_tos)), peer, raw, digest)
            return int(
                await self._fetchval(
                    "INSERT INTO intake (received_at, mail_from, rcpt_tos, peer, raw, sha256)"
                    " VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                    *params,
                )
            )
        except (StoreError, TypeError, ValueError) as exc:
            raise SpoolError(f"message from {mail_from!r} not spooled: {exc}") from exc

    async def adopt_intake(
        self, node: str, messages: Sequence[IntakeMessage]
    ) -> dict[int, tuple[int, IntakeState]]:
        """Take over `node`'s locally spooled `messages` (their `id` is the local id): each
        is inserted as pending unless (node, local id) is here already, so moving a spool
        twice (a crash between the move and its local bookkeeping) adds nothing. Returns per
        local id its id here and its state here."""
        if not messages:
            return {}
        rows = [await adoption_row(node, m) for m in messages]
        async with self._transaction() as conn:
            await conn.executemany(
                "INSERT INTO intake (received_at, mail_from, rcpt_tos, peer, raw, sha256, node, local_id)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (node, local_id) DO NOTHING",
                sorted(rows, key=lambda r: r[7]),  # one lock order for concurrent movers
            )
            found = await conn.fetch(
                "SELECT local_id, id, state FROM intake WHERE node = $1 AND local_id = ANY($2::bigint[])",
                node,
                [m.id for m in messages],
            )
        return {int(r[0]): (int(r[1]), IntakeState(r[2])) for r in found}

    async def pending_intake(self, limit: int = 100, after_id: int = 0) -> list[IntakeMessage]:
        """Pending messages with id > after_id, oldest first: at most `limit`, and beyond the
        first at most PENDING_BATCH_BYTES of raw bytes (callers page with `after_id`)."""
        sized = await self._fetch(
            "SELECT id, octet_length(raw) FROM intake WHERE state = 'pending' AND id > $1"
            " ORDER BY id LIMIT $2",
            after_id,
            limit,
        )
        ids = bounded_ids(sized)
        if not ids:
            return []
        rows = await self._fetch(
            f"SELECT {_COLUMNS} FROM intake WHERE id = ANY($1::bigint[]) AND state = 'pending' ORDER BY id",
            ids,
        )
        return [_row_to_intake(r) for r in rows]

    async def get_intake(self, intake_id: int) -> IntakeMessage | None:
        row = await self._fetchrow(f"SELECT {_COLUMNS} FROM intake WHERE id = $1", intake_id)
        return None if row is None else _row_to_intake(row)

    async def mark_intake(
        self, intake_id: int, state: IntakeState, error: str | None = None, now: datetime | None = None
    ) -> None:
        """Set a message's state; one whose raw bytes were pruned cannot go back to pending."""
        async with self._transaction() as conn:
            status = await conn.execute(
                "UPDATE intake SET state = $1, error = $2, processed_at = $3"
                " WHERE id = $4 AND ($1 != 'pending' OR raw_pruned_at IS NULL)",
                state.value,
                error,
                None if now is None else to_micros(now),
                intake_id,
            )
            if rowcount(status) == 0:
                if await conn.fetchval("SELECT 1 FROM intake WHERE id = $1", intake_id):
                    raise StoreError(f"intake message {intake_id}: raw bytes pruned, cannot process it again")
                raise StoreError(f"no intake message with id {intake_id}")

    async def note_intake_attempt(self, intake_id: int, error: str) -> int:
        attempts = await self._fetchval(
            "UPDATE intake SET attempts = attempts + 1, error = $1 WHERE id = $2 RETURNING attempts",
            error,
            intake_id,
        )
        if attempts is None:
            raise StoreError(f"no intake message with id {intake_id}")
        return int(attempts)

    async def prune_intake_raw(self, older_than: datetime, limit: int, now: datetime | None = None) -> int:
        """Drop the raw bytes of at most `limit` applied messages received before
        `older_than`, oldest first. Rows another node is pruning now are skipped, not waited for."""
        if limit <= 0:
            return 0
        stamp = to_micros(now if now is not None else utcnow())
        status = await self._execute(
            "UPDATE intake SET raw = ''::bytea, raw_pruned_at = $1 WHERE id IN ("
            " SELECT id FROM intake WHERE state = 'applied' AND raw_pruned_at IS NULL"
            " AND received_at < $2 ORDER BY received_at LIMIT $3 FOR UPDATE SKIP LOCKED)",
            stamp,
            to_micros(older_than),
            limit,
        )
        return rowcount(status)

    async def intake_stats(self) -> IntakeStats:
        rows = await self._fetch(
            "SELECT state, count(*), count(raw_pruned_at), coalesce(sum(octet_length(raw)), 0)"
            " FROM intake GROUP BY state"
        )
        counts = dict.fromkeys(IntakeState, 0)
        pruned = size = 0
        for state, count, pruned_here, size_here in rows:
            counts[IntakeState(state)] = int(count)
            pruned += int(pruned_here)
            size += int(size_here)
        return IntakeStats(counts=counts, raw_bytes=size, pruned=pruned)

    async def list_intake(
        self, state: IntakeState, limit: int = 100, after_id: int = 0
    ) -> list[IntakeSummary]:
        state = IntakeState(state)  # a literal in the SQL: the partial indexes apply
        rows = await self._fetch(
            f"SELECT {_SUMMARY_COLUMNS} FROM intake WHERE state = '{state.value}' AND id > $1"
            " ORDER BY id LIMIT $2",
            after_id,
            limit,
        )
        return [_row_to_summary(r) for r in rows]
