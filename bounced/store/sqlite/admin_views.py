"""Reads and bulk writes for the service layer (API and CLI): keyset pages, feeds, bulk
import, report drill-down, and the figures /metrics reads at scrape time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bounced.model import BounceEvent, ReportGrouping, SuppressionEntry
from bounced.store.base import METRICS_QUERIES, MetricsSnapshot
from bounced.store.sqlite.bounces import _EVENT_COLUMNS, _row_to_event
from bounced.store.sqlite.connection import SQLiteConnection, to_micros
from bounced.store.sqlite.suppression import _SUPPRESSION_COLUMNS, _row_to_suppression

__all__ = ["AdminViewsMixin"]


class AdminViewsMixin(SQLiteConnection):
    async def list_suppressions_after(
        self, after: tuple[datetime, str] | None, limit: int
    ) -> list[SuppressionEntry]:
        """The list in (created_at, address) order, starting after `after`: a page that no
        concurrent add or remove can shift, unlike an offset."""
        sql = f"SELECT {_SUPPRESSION_COLUMNS} FROM suppressions"
        params: list[object] = []
        if after is not None:
            sql += " WHERE (created_at, address) > (?, ?)"
            params += [to_micros(after[0]), after[1]]
        rows = await self._fetchall(sql + " ORDER BY created_at, address LIMIT ?", [*params, limit])
        return [_row_to_suppression(r) for r in rows]

    async def import_suppressions(
        self, entries: Sequence[SuppressionEntry], audit_reason: str, actor: str, now: datetime
    ) -> int:
        """Add the entries not on the list yet, each kept as given (reason, time, origin, note;
        the bounce event id is dropped: it names a row of another database), and audit each
        added one like `add_suppression`. One transaction; returns how many were added."""
        now_us = to_micros(now)
        async with self._transaction() as conn:
            addresses = [e.address for e in entries]
            present: set[str] = set()
            for start in range(0, len(addresses), 500):  # SQLite's bound-parameter limit
                chunk = addresses[start : start + 500]
                marks = ", ".join("?" * len(chunk))
                cursor = await conn.execute(
                    f"SELECT address FROM suppressions WHERE address IN ({marks})", chunk
                )
                present.update(r[0] for r in await cursor.fetchall())
            new: dict[str, SuppressionEntry] = {}
            for e in entries:
                if e.address not in present:
                    new.setdefault(e.address, e)  # the first of duplicate lines wins
            await conn.executemany(
                "INSERT INTO suppressions (address, reason, created_at, created_by, note)"
                " VALUES (?, ?, ?, ?, ?)",
                [(e.address, e.reason, to_micros(e.created_at), e.created_by, e.note) for e in new.values()],
            )
            await conn.executemany(
                "INSERT INTO audit_log (at, actor, action, address, reason)"
                " VALUES (?, ?, 'suppression.add', ?, ?)",
                [(now_us, actor, a, audit_reason) for a in new],
            )
        return len(new)

    async def events_after(self, after_id: int, limit: int) -> list[BounceEvent]:
        """The event feed: events with id > after_id, in id order (ids only grow)."""
        rows = await self._fetchall(
            f"SELECT {_EVENT_COLUMNS} FROM bounce_events WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
        )
        return [_row_to_event(r) for r in rows]

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
        """The soft events one report row counts, newest first (a report row's drill-down).
        `group` None: the row of unknown from-domain / sending IP."""
        column = "from_domain" if group_by is ReportGrouping.FROM_DOMAIN else "sending_ip"
        sql = (
            f"SELECT {_EVENT_COLUMNS} FROM bounce_events WHERE kind = 'soft' AND received_at >= ?"
            f" AND received_at < ? AND recipient_domain = ? AND text_key = ? AND coalesce({column}, '') = ?"
        )
        params: list[object] = [to_micros(start), to_micros(end), recipient_domain, text_key, group or ""]
        if mailing_id is not None:
            sql += " AND mailing_id = ?"
            params.append(mailing_id)
        rows = await self._fetchall(sql + " ORDER BY received_at DESC, id DESC LIMIT ?", [*params, limit])
        return [_row_to_event(r) for r in rows]

    async def metrics_snapshot(self, now: datetime) -> MetricsSnapshot:
        counters, backlog, applied, queue, suppressed = METRICS_QUERIES
        return MetricsSnapshot.from_rows(
            await self._fetchall(counters),
            await self._fetchone(backlog),
            await self._fetchone(applied),
            await self._fetchone(queue, (to_micros(now),)),
            int((await self._fetchone(suppressed) or (0,))[0]),
        )

    async def writable(self) -> bool:
        """Can a write transaction begin and commit now (readiness)?"""
        async with self._transaction() as conn:
            await conn.execute("SELECT 1")
        return True
