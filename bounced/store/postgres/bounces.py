"""Recording classified bounce events on PostgreSQL: events, profiles, suppressions, the
webhook outbox and the intake state, in one transaction, right with several nodes at once.

What to write is decided in store/recording.py (shared with SQLite); here is how, safely
under concurrent writers:
- events: one INSERT ... ON CONFLICT (dedup_key) DO NOTHING for the batch. A bounce two
  nodes record at once is inserted by one; the other waits for its commit and skips it.
  Transaction-scoped advisory locks on the batch's dedup keys, taken in key order first,
  keep two overlapping batches from deadlocking on each other's keys.
- counters (report, metrics): statement triggers (0001_core.sql), atomic upserts.
- profiles and suppressions: upserts in address order; a suppression is added by the one
  transaction whose insert wins, so it is audited and announced once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import asyncpg

from bounced.model import BounceEvent
from bounced.store.base import IntakeRecording, RecordOutcome
from bounced.store.postgres.connection import PostgresConnection
from bounced.store.postgres.sql import numbered
from bounced.store.recording import (
    EVENT_COLUMNS,
    INSERT_COLUMNS,
    MARK_INTAKE,
    EventRow,
    Planned,
    RecordingFront,
    event_rows,
    match_inserted,
    outbox_rows,
    outcomes,
    plan_batch,
    plan_consequences,
    row_to_event,
    suppression_audit,
)
from bounced.store.sqlite.bounces import UPSERT_PROFILE
from bounced.store.timecodec import to_micros

__all__ = ["BouncesMixin"]

# PostgreSQL types of INSERT_COLUMNS, for unnest() of one array per column.
_INSERT_TYPES = (
    "bigint", "text", "text", "text", "text", "text", "text", "integer", "text", "text", "text", "bigint",
    "text", "text", "text", "text", "bigint", "bigint", "integer", "text", "text", "text", "text",
)  # fmt: skip
_UNNEST = ", ".join(f"${i}::{t}[]" for i, t in enumerate(_INSERT_TYPES, 1))
_INSERT_EVENTS = (
    f"INSERT INTO bounce_events ({INSERT_COLUMNS})"
    f" SELECT {INSERT_COLUMNS} FROM unnest({_UNNEST}) WITH ORDINALITY"
    f" AS r ({INSERT_COLUMNS}, ord) ORDER BY ord"  # ids in batch order (match_inserted)
    " ON CONFLICT (dedup_key) DO NOTHING RETURNING id, dedup_key"
)
_LOCK_KEYS = (
    "SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0)))"
    " FROM (SELECT DISTINCT k FROM unnest($1::text[]) AS k ORDER BY k) AS keys"
)
_INSERT_SUPPRESSIONS = (
    "INSERT INTO suppressions (address, reason, created_at, created_by, bounce_event_id)"
    " SELECT a, r, c, b, e FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[])"
    " WITH ORDINALITY AS s (a, r, c, b, e, ord) ORDER BY a, ord"  # the first per address wins
    " ON CONFLICT (address) DO NOTHING RETURNING bounce_event_id"
)
_AUDIT = (
    "INSERT INTO audit_log (at, actor, action, address, reason) VALUES ($1, $2, 'suppression.add', $3, $4)"
)


def _columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    """Rows as one list per column (for unnest)."""
    return [[row[i] for row in rows] for i in range(width)]


class BouncesMixin(RecordingFront, PostgresConnection):
    _webhook_outbox = False  # the webhook outbox (store/postgres/webhooks.py), composed beside

    if TYPE_CHECKING:

        async def _outbox_events(self, conn: Any, rows: Sequence[tuple[Any, ...]]) -> None: ...

    async def record_batch(self, items: Sequence[IntakeRecording], now: datetime) -> list[RecordOutcome]:
        """`store.base.BounceStore.record_batch`: all items in one transaction (run again
        whole if PostgreSQL aborts it for a deadlock)."""
        now_us = to_micros(now)
        plan = plan_batch(items, now_us)
        planned = plan.planned

        async def record(conn: asyncpg.Connection) -> list[RecordOutcome]:
            identities = await self._identities(conn, items)
            rows = event_rows(planned, identities, self._address)
            event_ids = await self._insert_events(conn, rows)
            suppressed = await self._apply_consequences(conn, planned, rows, event_ids, now_us)
            if self._webhook_outbox:
                await self._outbox_events(conn, outbox_rows(planned, rows, event_ids, suppressed, now_us))
            if plan.marks:
                await conn.executemany(numbered(MARK_INTAKE), plan.marks)
            return outcomes(len(items), planned, rows, event_ids, suppressed)

        return await self._in_transaction(record)

    @staticmethod
    async def _identities(conn: asyncpg.Connection, items: Sequence[IntakeRecording]) -> list[str | None]:
        """Each item's bounce identity: its bounce_id, else its intake's raw hash."""
        wanted = [i.intake_id for i in items if i.events and not i.bounce_id and i.intake_id is not None]
        hashes: dict[int, str] = {}
        if wanted:
            found = await conn.fetch("SELECT id, sha256 FROM intake WHERE id = ANY($1::bigint[])", wanted)
            hashes = {int(r[0]): str(r[1]) for r in found}
        return [
            item.bounce_id or (None if item.intake_id is None else hashes.get(item.intake_id))
            for item in items
        ]

    @staticmethod
    async def _insert_events(conn: asyncpg.Connection, rows: Sequence[EventRow]) -> list[int | None]:
        if not rows:
            return []
        keys = [r.dedup_key for r in rows if r.dedup_key is not None]
        if keys:
            await conn.fetchval(_LOCK_KEYS, keys)
        inserted = await conn.fetch(_INSERT_EVENTS, *_columns([r.params for r in rows], len(_INSERT_TYPES)))
        return match_inserted(rows, [(int(r[0]), r[1]) for r in inserted])

    async def _apply_consequences(
        self,
        conn: asyncpg.Connection,
        planned: Sequence[Planned],
        rows: Sequence[EventRow],
        event_ids: Sequence[int | None],
        now_us: int,
    ) -> set[int]:
        """Profiles, suppressions, quarantine entries and closed deliveries for the new
        events (store/recording.py decides); the ids of events whose suppression is new."""
        plan = plan_consequences(planned, rows, event_ids, now_us)
        by_address = lambda row: row[0]  # noqa: E731  (stable: event order per address stays)
        if plan.profiles:
            await conn.executemany(numbered(UPSERT_PROFILE), sorted(plan.profiles, key=by_address))
        if plan.complaints:
            await conn.executemany(
                "INSERT INTO profiles (address, status, created_at, updated_at) VALUES ($1, 'active', $2, $3)"
                " ON CONFLICT (address) DO NOTHING",
                sorted(plan.complaints, key=by_address),
            )
        if plan.hard_deliveries:
            await self._close_hard_bounced(conn, plan.hard_deliveries)
        if plan.quarantines:
            await conn.executemany(
                "INSERT INTO quarantine (address, bounce_event_id, reason, recipient_domain, sending_ip,"
                " text_key, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                plan.quarantines,
            )
        if not plan.suppressions:
            return set()
        added = await conn.fetch(_INSERT_SUPPRESSIONS, *_columns(plan.suppressions, 5))
        new_ids = {int(r[0]) for r in added}
        audit = suppression_audit(plan.suppressions, new_ids, now_us)
        if audit:
            await conn.executemany(_AUDIT, audit)
        return new_ids

    @staticmethod
    async def _close_hard_bounced(conn: asyncpg.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        """A signed hard bounce about one of our deliveries: the delivery is hard_bounced and
        its pending resends cancelled (rows: recording.Consequences.hard_deliveries), in
        delivery order (one lock order for concurrent nodes)."""
        ordered = sorted(rows, key=lambda r: r[2])
        await conn.executemany(
            "UPDATE deliveries SET state = 'hard_bounced', last_bounce_text = $1"
            " WHERE id = $2 AND state IN ('delivered', 'soft_bounced', 'scheduled')",
            [(text, delivery) for text, _, delivery in ordered],
        )
        await conn.executemany(
            "UPDATE resend_jobs SET state = 'cancelled', lease_until = NULL, finished_at = $1"
            " WHERE delivery_id = $2 AND state = 'pending'",
            [(at, delivery) for _, at, delivery in ordered],
        )

    async def events_for(self, recipient: str) -> list[BounceEvent]:
        rows = await self._fetch(
            f"SELECT {EVENT_COLUMNS} FROM bounce_events WHERE recipient = $1 ORDER BY received_at, id",
            self._address(recipient),
        )
        return [row_to_event(r) for r in rows]

    async def get_event(self, event_id: int) -> BounceEvent | None:
        row = await self._fetchrow(f"SELECT {EVENT_COLUMNS} FROM bounce_events WHERE id = $1", event_id)
        return None if row is None else row_to_event(row)
