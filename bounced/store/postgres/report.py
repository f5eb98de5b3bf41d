"""Report queries on PostgreSQL: the SQLite store's plan and SQL (store/sqlite/report.py),
whole months and days from the trigger-kept counts and the edges from raw events, streamed
through a server-side cursor so memory does not grow with the report."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from bounced.model import NonDelivery, ReportGrouping, SoftBounceGroup
from bounced.store.postgres.connection import PostgresConnection, store_errors
from bounced.store.postgres.sql import numbered
from bounced.store.sqlite.report import GROUP_COLUMN, plan_period, soft_groups_sql
from bounced.store.timecodec import from_micros, to_micros

__all__ = ["ReportMixin"]

_FETCH = 2000  # rows per batch from the cursor


class ReportMixin(PostgresConnection):
    async def soft_bounce_groups(
        self,
        start: datetime,
        end: datetime,
        group_by: ReportGrouping = ReportGrouping.FROM_DOMAIN,
        mailing_id: str | None = None,
    ) -> AsyncIterator[SoftBounceGroup]:
        async for batch in self.soft_bounce_group_batches(start, end, group_by, mailing_id):
            for group in batch:
                yield group

    async def soft_bounce_group_batches(
        self,
        start: datetime,
        end: datetime,
        group_by: ReportGrouping = ReportGrouping.FROM_DOMAIN,
        mailing_id: str | None = None,
    ) -> AsyncIterator[list[SoftBounceGroup]]:
        async for rows in self.soft_bounce_cell_batches(start, end, group_by, mailing_id):
            yield [SoftBounceGroup(r[0] or None, r[1], r[2], r[3], r[4], r[5], r[6], r[7]) for r in rows]

    async def soft_bounce_cell_batches(
        self,
        start: datetime,
        end: datetime,
        group_by: ReportGrouping = ReportGrouping.FROM_DOMAIN,
        mailing_id: str | None = None,
    ) -> AsyncIterator[list[tuple[Any, ...]]]:
        """Cells as tuples in `SoftBounceGroup`'s field order (group '' when unknown)."""
        start_us, end_us = to_micros(start), to_micros(end)
        plan = plan_period(start_us, end_us)
        sql, params = soft_groups_sql(
            plan, GROUP_COLUMN[ReportGrouping(group_by)], mailing_id, start_us, end_us
        )
        async for rows in self._stream(numbered(sql), params):
            yield [tuple(r) for r in rows]

    async def non_deliveries_between(
        self, start: datetime, end: datetime, mailing_id: str | None = None
    ) -> AsyncIterator[NonDelivery]:
        sql = (
            "SELECT id, delivery_id, recipient, at, attempts, last_bounce_text, mailing_id, from_domain,"
            " sending_ip FROM non_deliveries WHERE at >= $1 AND at < $2"
        )
        params: list[Any] = [to_micros(start), to_micros(end)]
        if mailing_id is not None:
            sql += " AND mailing_id = $3"
            params.append(mailing_id)
        async for rows in self._stream(sql + " ORDER BY at, id", params):
            for row in rows:
                yield NonDelivery(
                    id=int(row[0]),
                    delivery_id=int(row[1]),
                    recipient=row[2],
                    at=from_micros(row[3]),
                    attempts=int(row[4]),
                    last_bounce_text=row[5],
                    mailing_id=row[6],
                    from_domain=row[7],
                    sending_ip=row[8],
                )

    async def _stream(self, sql: str, params: list[Any]) -> AsyncIterator[list[Any]]:
        """Rows of one query in batches from a server-side cursor (its own pooled connection,
        a read-only transaction held while the caller reads)."""
        async with (
            store_errors("report query failed"),
            self._pool.acquire() as conn,
            conn.transaction(readonly=True),
        ):
            cursor = await conn.cursor(sql, *params)
            while rows := await cursor.fetch(_FETCH):
                yield rows
