"""Recording classified bounce events: events, profiles and suppressions in one transaction."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import aiosqlite

from bounced.model import BounceEvent
from bounced.store.base import IntakeRecording, RecordOutcome
from bounced.store.recording import (
    EVENT_COLUMNS,
    INSERT_COLUMNS,
    MARK_INTAKE,
    EventRow,
    RecordingFront,
    dedup_key,
    event_rows,
    match_inserted,
    outbox_rows,
    outcomes,
    plan_batch,
    plan_consequences,
    row_to_event,
    suppression_audit,
)
from bounced.store.sqlite.connection import to_micros
from bounced.store.sqlite.webhooks import WebhooksMixin

__all__ = ["BouncesMixin", "dedup_key"]

log = logging.getLogger("bounced.store")

# Older names, used by the other SQLite mixins.
_EVENT_COLUMNS = EVENT_COLUMNS
_row_to_event = row_to_event

_INSERT_EVENT = (
    f"INSERT INTO bounce_events ({INSERT_COLUMNS})"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (dedup_key) DO NOTHING"
)
_IN_CHUNK = 500  # ids per `IN (...)`: well under SQLite's bound-parameter limit

# A bounce's profile change; the same statement on every backend but for placeholders.
UPSERT_PROFILE = """
INSERT INTO profiles (address, status, bounce_count, soft_bounce_count, hard_bounce_count,
                      last_bounce_at, last_bounce_reason, created_at, updated_at)
VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?)
ON CONFLICT (address) DO UPDATE SET
    status = CASE WHEN excluded.status = 'hard_bounced' THEN 'hard_bounced' ELSE profiles.status END,
    bounce_count = profiles.bounce_count + 1,
    soft_bounce_count = profiles.soft_bounce_count + excluded.soft_bounce_count,
    hard_bounce_count = profiles.hard_bounce_count + excluded.hard_bounce_count,
    last_bounce_reason = CASE
        WHEN profiles.last_bounce_at IS NULL OR excluded.last_bounce_at >= profiles.last_bounce_at
        THEN excluded.last_bounce_reason ELSE profiles.last_bounce_reason END,
    last_bounce_at = CASE
        WHEN profiles.last_bounce_at IS NULL OR excluded.last_bounce_at >= profiles.last_bounce_at
        THEN excluded.last_bounce_at ELSE profiles.last_bounce_at END,
    updated_at = excluded.updated_at
"""


class BouncesMixin(RecordingFront, WebhooksMixin):
    async def record_batch(self, items: Sequence[IntakeRecording], now: datetime) -> list[RecordOutcome]:
        """`record_events_outcome` for many intake messages in one transaction (see
        `store.base.BounceStore.record_batch`).

        Set-based, so a batch costs a dozen statements (each a hop to the connection's
        thread) instead of several per event: events go in with one `executemany` and their
        ids are read back (ids above the previous maximum, in insertion order, under the
        write lock); profiles, suppressions, audit entries and intake states follow, each
        one `executemany` in event order, which leaves the same rows as recording the
        events one by one. Everything from the first read to the last write runs in one
        transaction holding the write lock, so the ids read back are this batch's."""
        now_us = to_micros(now)
        plan = plan_batch(items, now_us)
        planned = plan.planned

        async def record(conn: aiosqlite.Connection) -> list[RecordOutcome]:
            identities = await self._identities(conn, items)
            rows = event_rows(planned, identities, self._address)
            event_ids = await self._insert_events(conn, rows)
            suppressed = await self._apply_consequences(conn, planned, rows, event_ids, now_us)
            if self._webhook_outbox:
                await self._outbox_events(conn, outbox_rows(planned, rows, event_ids, suppressed, now_us))
            if plan.marks:
                await conn.executemany(MARK_INTAKE, plan.marks)
            return outcomes(len(items), planned, rows, event_ids, suppressed)

        # Shares the commit (and its fsync) with the listener's spools in flight; if the
        # shared transaction fails, this runs alone (connection.py `_group_commit`).
        return await self._group_commit(record)

    async def _identities(
        self, conn: aiosqlite.Connection, items: Sequence[IntakeRecording]
    ) -> list[str | None]:
        """Each item's bounce identity: its bounce_id, else its intake's raw hash."""
        wanted = [i.intake_id for i in items if i.events and not i.bounce_id and i.intake_id is not None]
        hashes: dict[int, str] = {}
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start : start + _IN_CHUNK]
            found = await conn.execute_fetchall(
                f"SELECT id, sha256 FROM intake WHERE id IN ({', '.join('?' * len(chunk))})", chunk
            )
            hashes.update((int(r[0]), str(r[1])) for r in found)
        return [
            item.bounce_id or (None if item.intake_id is None else hashes.get(item.intake_id))
            for item in items
        ]

    async def _insert_events(self, conn: aiosqlite.Connection, rows: Sequence[EventRow]) -> list[int | None]:
        """Insert events, duplicates (same dedup_key, in the table or earlier here) skipped;
        the new id of each, or None for a duplicate."""
        if not rows:
            return []
        [(before,)] = await conn.execute_fetchall("SELECT COALESCE(MAX(id), 0) FROM bounce_events")
        await conn.executemany(_INSERT_EVENT, [row.params for row in rows])
        # Under the write lock a new row's id is above every existing one, assigned in order.
        inserted = await conn.execute_fetchall(
            "SELECT id, dedup_key FROM bounce_events WHERE id > ? ORDER BY id", (before,)
        )
        return match_inserted(rows, [(int(r[0]), r[1]) for r in inserted])

    async def _apply_consequences(
        self,
        conn: aiosqlite.Connection,
        planned: Sequence[tuple[int, BounceEvent, str]],
        rows: Sequence[EventRow],
        event_ids: Sequence[int | None],
        now_us: int,
    ) -> set[int]:
        """Profiles and suppressions for the newly inserted events; returns the ids of the
        events whose suppression is new (an address already suppressed keeps its entry)."""
        plan = plan_consequences(planned, rows, event_ids, now_us)
        # A complaint's profile insert and a bounce's upsert commute: either order leaves the
        # same row (counts start at 0, created_at is `now` for both).
        if plan.profiles:
            await conn.executemany(UPSERT_PROFILE, plan.profiles)
        if plan.complaints:
            await conn.executemany(
                "INSERT INTO profiles (address, status, created_at, updated_at) VALUES (?, 'active', ?, ?)"
                " ON CONFLICT (address) DO NOTHING",
                plan.complaints,
            )
        if plan.hard_deliveries:
            await self._close_hard_bounced(conn, plan.hard_deliveries)
        if plan.quarantines:
            await conn.executemany(
                "INSERT INTO quarantine (address, bounce_event_id, reason, recipient_domain, sending_ip,"
                " text_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                plan.quarantines,
            )
        if not plan.suppressions:
            return set()
        [(before,)] = await conn.execute_fetchall("SELECT COALESCE(MAX(rowid), 0) FROM suppressions")
        await conn.executemany(
            "INSERT INTO suppressions (address, reason, created_at, created_by, bounce_event_id)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (address) DO NOTHING",
            plan.suppressions,
        )
        added = await conn.execute_fetchall(
            "SELECT bounce_event_id FROM suppressions WHERE rowid > ? ORDER BY rowid", (before,)
        )
        new_ids = {int(r[0]) for r in added}
        await conn.executemany(
            "INSERT INTO audit_log (at, actor, action, address, reason)"
            " VALUES (?, ?, 'suppression.add', ?, ?)",
            suppression_audit(plan.suppressions, new_ids, now_us),
        )
        return new_ids

    @staticmethod
    async def _close_hard_bounced(conn: aiosqlite.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        """A signed hard bounce by mail about one of our deliveries (it had been handed on
        with 250, or was waiting for a resend): the delivery is hard_bounced and its pending
        resends are cancelled (rows: recording.Consequences.hard_deliveries)."""
        await conn.executemany(
            "UPDATE deliveries SET state = 'hard_bounced', last_bounce_text = ?1"
            " WHERE id = ?3 AND state IN ('delivered', 'soft_bounced', 'scheduled')",
            rows,
        )
        await conn.executemany(
            "UPDATE resend_jobs SET state = 'cancelled', lease_until = NULL, finished_at = ?2"
            " WHERE delivery_id = ?3 AND state = 'pending'",
            rows,
        )

    async def events_for(self, recipient: str) -> list[BounceEvent]:
        """Every recorded event about `recipient`, oldest first."""
        rows = await self._fetchall(
            f"SELECT {_EVENT_COLUMNS} FROM bounce_events WHERE recipient = ? ORDER BY received_at, id",
            (self._address(recipient),),
        )
        return [_row_to_event(r) for r in rows]

    async def get_event(self, event_id: int) -> BounceEvent | None:
        rows = await self._fetchall(f"SELECT {_EVENT_COLUMNS} FROM bounce_events WHERE id = ?", (event_id,))
        return _row_to_event(rows[0]) if rows else None
