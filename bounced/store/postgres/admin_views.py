"""Reads and bulk writes for the service layer on PostgreSQL (see store/sqlite/admin_views.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bounced.model import BounceEvent, ReportGrouping, SuppressionEntry
from bounced.store.base import METRICS_QUERIES, MetricsSnapshot
from bounced.store.postgres.connection import PostgresConnection
from bounced.store.postgres.sql import numbered
from bounced.store.recording import EVENT_COLUMNS, row_to_event
from bounced.store.sqlite.suppression import _SUPPRESSION_COLUMNS, _row_to_suppression
from bounced.store.timecodec import to_micros

__all__ = ["AdminViewsMixin"]


class AdminViewsMixin(PostgresConnection):
    async def list_suppressions_after(
        self, after: tuple[datetime, str] | None, limit: int
    ) -> list[SuppressionEntry]:
        """The list in (created_at, address) order after `after` (keyset: no shifting page)."""
        if after is None:
            rows = await self._fetch(
                f"SELECT {_SUPPRESSION_COLUMNS} FROM suppressions ORDER BY created_at, address LIMIT $1",
                limit,
            )
        else:
            rows = await self._fetch(
                f"SELECT {_SUPPRESSION_COLUMNS} FROM suppressions WHERE (created_at, address) > ($1, $2)"
                " ORDER BY created_at, address LIMIT $3",
                to_micros(after[0]),
                after[1],
                limit,
            )
        return [_row_to_suppression(r) for r in rows]

    async def import_suppressions(
        self, entries: Sequence[SuppressionEntry], audit_reason: str, actor: str, now: datetime
    ) -> int:
        """Add the entries not on the list yet (each as given; the first of duplicates wins),
        auditing each added one. One transaction; an address another node adds meanwhile
        is simply not added here. Returns how many were added."""
        now_us = to_micros(now)
        first: dict[str, SuppressionEntry] = {}
        for e in entries:
            first.setdefault(e.address, e)
        if not first:
            return 0
        new = [first[a] for a in sorted(first)]
        async with self._transaction() as conn:
            added = await conn.fetch(
                "INSERT INTO suppressions (address, reason, created_at, created_by, note)"
                " SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[])"
                " ON CONFLICT (address) DO NOTHING RETURNING address",
                [e.address for e in new],
                [e.reason for e in new],
                [to_micros(e.created_at) for e in new],
                [e.created_by for e in new],
                [e.note for e in new],
            )
            addresses = {r[0] for r in added}
            await conn.executemany(
                "INSERT INTO audit_log (at, actor, action, address, reason)"
                " VALUES ($1, $2, 'suppression.add', $3, $4)",
                [(now_us, actor, a, audit_reason) for a in first if a in addresses],
            )
        return len(addresses)

    async def events_after(self, after_id: int, limit: int) -> list[BounceEvent]:
        """The event feed: events with id > after_id, in id order.

        With several nodes an id can commit after a higher one: a reader that has gone past
        it misses it. Readers that must see every event use the webhook outbox instead."""
        rows = await self._fetch(
            f"SELECT {EVENT_COLUMNS} FROM bounce_events WHERE id > $1 ORDER BY id LIMIT $2", after_id, limit
        )
        return [row_to_event(r) for r in rows]

    async def soft_bounce_examples(
        self,
        start: datetime,
        end: datetime,
        group_by: ReportGrouping,
        group: str | None,
        recipient_domain: str,
        text_key: str,
        mailing_id: str | None = None,
        limit: int = 20,
    ) -> list[BounceEvent]:
        column = "from_domain" if group_by is ReportGrouping.FROM_DOMAIN else "sending_ip"
        sql = (
            f"SELECT {EVENT_COLUMNS} FROM bounce_events WHERE kind = 'soft' AND received_at >= $1"
            " AND received_at < $2 AND recipient_domain = $3 AND text_key = $4"
            f" AND coalesce({column}, '') = $5"
            " AND ($6::text IS NULL OR mailing_id = $6) ORDER BY received_at DESC, id DESC LIMIT $7"
        )
        rows = await self._fetch(
            sql, to_micros(start), to_micros(end), recipient_domain, text_key, group or "", mailing_id, limit
        )
        return [row_to_event(r) for r in rows]

    async def metrics_snapshot(self, now: datetime) -> MetricsSnapshot:
        counters, backlog, applied, queue, suppressed = (numbered(q) for q in METRICS_QUERIES)
        return MetricsSnapshot.from_rows(
            await self._fetch(counters),
            await self._fetchrow(backlog),
            await self._fetchrow(applied),
            await self._fetchrow(queue, to_micros(now)),
            int(await self._fetchval(suppressed)),
        )

    async def writable(self) -> bool:
        """Can a write transaction begin and commit now (readiness)?"""
        async with self._transaction() as conn:
            await conn.execute("SELECT 1")
        return True
