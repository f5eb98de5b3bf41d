"""The report methods both backends share, on top of two a backend gives: the cells as
tuples (`soft_bounce_cell_batches`) and one query's rows in batches (`_stream`, SQL with
`?` marks)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from bounced.model import NonDelivery, ReportGrouping, SoftBounceGroup
from bounced.store.timecodec import from_micros, to_micros

__all__ = ["ReportStreams"]


class ReportStreams:
    def soft_bounce_cell_batches(
        self,
        start: datetime,
        end: datetime,
        group_by: ReportGrouping = ReportGrouping.FROM_DOMAIN,
        mailing_id: str | None = None,
    ) -> AsyncIterator[list[tuple[Any, ...]]]:
        """Cells as tuples in `SoftBounceGroup`'s field order (group '' when unknown)."""
        raise NotImplementedError

    def _stream(self, sql: str, params: list[Any]) -> AsyncIterator[list[Any]]:
        raise NotImplementedError

    async def soft_bounce_group_batches(
        self,
        start: datetime,
        end: datetime,
        group_by: ReportGrouping = ReportGrouping.FROM_DOMAIN,
        mailing_id: str | None = None,
    ) -> AsyncIterator[list[SoftBounceGroup]]:
        """Soft-bounce counts for [start, end), one per (group, recipient domain, text key),
        largest first, in batches (for big reports: far less overhead per row). Exact: every
        amount equals a count of the soft events in the period."""
        async for rows in self.soft_bounce_cell_batches(start, end, group_by, mailing_id):
            yield [SoftBounceGroup(r[0] or None, r[1], r[2], r[3], r[4], r[5], r[6], r[7]) for r in rows]

    async def non_deliveries_between(
        self, start: datetime, end: datetime, mailing_id: str | None = None
    ) -> AsyncIterator[NonDelivery]:
        """Deliveries given up in [start, end) (the sending side's `non_deliveries`), by time."""
        sql = (
            "SELECT id, delivery_id, recipient, at, attempts, last_bounce_text, mailing_id, from_domain,"
            " sending_ip FROM non_deliveries WHERE at >= ? AND at < ?"
        )
        params: list[Any] = [to_micros(start), to_micros(end)]
        if mailing_id is not None:
            sql += " AND mailing_id = ?"
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
