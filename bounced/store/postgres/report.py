"""Report queries on PostgreSQL: the SQLite store's plan and SQL (store/sqlite/report.py),
whole months and days from the trigger-kept counts and the edges from raw events, streamed
through a server-side cursor so memory does not grow with the report."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from bounced.model import ReportGrouping
from bounced.store.postgres.connection import PostgresConnection, store_errors
from bounced.store.postgres.sql import numbered
from bounced.store.report_streams import ReportStreams
from bounced.store.sqlite.report import GROUP_COLUMN, plan_period, soft_groups_sql
from bounced.store.timecodec import to_micros

__all__ = ["ReportMixin"]

_FETCH = 2000  # rows per batch from the cursor
# Sort and hash memory for the report's own transaction. With the server's default (4 MB)
# a month at 10 M events (180,000 cells, an 80 MB sort) spills to disk, and the planner
# picks a parallel plan in which each of three processes aggregates the whole month again:
# 128 MB answers as fast from one process, with a third of the CPU (docs/nodes.md).
_REPORT_WORK_MEM = "128MB"


class ReportMixin(ReportStreams, PostgresConnection):
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
        # Byte order for ties, as on SQLite, whatever the database's collation.
        sql, params = soft_groups_sql(
            plan, GROUP_COLUMN[ReportGrouping(group_by)], mailing_id, start_us, end_us, ' COLLATE "C"'
        )
        async for rows in self._stream(sql, params):
            yield [tuple(r) for r in rows]

    async def _stream(self, sql: str, params: list[Any]) -> AsyncIterator[list[Any]]:
        """Rows of one query (`?` marks) in batches from a server-side cursor (its own pooled
        connection, a read-only transaction held while the caller reads)."""
        async with (
            store_errors("report query failed"),
            self._pool.acquire() as conn,
            conn.transaction(readonly=True),
        ):
            await conn.execute(f"SET LOCAL work_mem = '{_REPORT_WORK_MEM}'")
            cursor = await conn.cursor(numbered(sql), *params)
            while rows := await cursor.fetch(_FETCH):
                yield rows
