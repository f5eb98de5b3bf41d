"""Report queries: exact soft-bounce counts per (group, recipient domain, bounce text).

A period is answered from three sources whose union is exactly the period's soft events:
whole UTC months from `report_soft_monthly`, whole UTC days from `report_soft_daily` (both
kept by triggers in the events' own transactions, migration 0003), and the partial days at
either edge from the raw `bounce_events`. Cells refer to `report_soft_texts`, one row per
(recipient domain, normalised text) holding the first original text seen as the example. Rows stream
out sorted by amount (largest first, ties by group, domain, text), so memory does not grow
with the number of events.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite

from bounced.errors import StoreError
from bounced.model import NonDelivery, ReportGrouping, SoftBounceGroup
from bounced.store.sqlite.connection import SQLiteConnection, from_micros, to_micros

__all__ = ["DAY_MICROS", "PeriodPlan", "ReportMixin", "plan_period"]

DAY_MICROS = 86_400 * 1_000_000
_FETCH = 2000
_CACHE_KIB = 64 * 1024  # page cache and sorter memory of a report connection
_EPOCH_DAY = date(1970, 1, 1)
_GROUP_COLUMN = {ReportGrouping.FROM_DOMAIN: "from_domain", ReportGrouping.IP: "sending_ip"}


@dataclass(frozen=True, slots=True)
class PeriodPlan:
    """How a period [start, end) splits into sources (all ranges half-open)."""

    months: tuple[int, int] | None  # yyyymm keys
    days: tuple[tuple[int, int], ...]  # UTC day numbers
    raw: tuple[tuple[int, int], ...]  # microseconds


def _day_date(day: int) -> date:
    return _EPOCH_DAY + timedelta(days=day)


def _date_day(value: date) -> int:
    return (value - _EPOCH_DAY).days


def _yyyymm(day: int) -> int:
    d = _day_date(day)
    return d.year * 100 + d.month


def _first_month_start_at_or_after(day: int) -> int:
    d = _day_date(day)
    if d.day == 1:
        return day
    nxt = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return _date_day(nxt)


def _last_month_start_at_or_before(day: int) -> int:
    return _date_day(_day_date(day).replace(day=1))


def plan_period(start_us: int, end_us: int) -> PeriodPlan:
    """Split [start_us, end_us) into whole months, whole days and raw edges (pure)."""
    if end_us <= start_us:
        return PeriodPlan(None, (), ())
    d0 = -(-start_us // DAY_MICROS)  # first whole day
    d1 = end_us // DAY_MICROS  # end of the last whole day
    if d0 >= d1:
        return PeriodPlan(None, (), ((start_us, end_us),))
    raw: list[tuple[int, int]] = []
    if start_us < d0 * DAY_MICROS:
        raw.append((start_us, d0 * DAY_MICROS))
    if d1 * DAY_MICROS < end_us:
        raw.append((d1 * DAY_MICROS, end_us))
    m0 = _first_month_start_at_or_after(d0)
    m1 = _last_month_start_at_or_before(d1)
    if m0 < m1:
        days = tuple(r for r in ((d0, m0), (m1, d1)) if r[0] < r[1])
        return PeriodPlan((_yyyymm(m0), _yyyymm(m1)), days, tuple(raw))
    return PeriodPlan(None, ((d0, d1),), tuple(raw))


def _soft_groups_sql(
    plan: PeriodPlan, column: str, mailing_id: str | None, start_us: int, end_us: int
) -> tuple[str, list[Any]]:
    parts: list[str] = []
    params: list[Any] = []
    agg_cols = f"{column} AS g, text_id AS tid, amount AS n"
    raw = (
        f"SELECT coalesce(e.{column}, '') AS g, t.id AS tid, 1 AS n FROM bounce_events AS e"
        " JOIN report_soft_texts AS t ON t.recipient_domain = e.recipient_domain AND t.text_key = e.text_key"
        " WHERE e.kind = 'soft' AND e.received_at >= ? AND e.received_at < ?"
    )
    if mailing_id is not None:
        # Pre-aggregates are for all mailings; one mailing reads its own events (indexed).
        parts.append(raw + " AND e.mailing_id = ?")
        params += [start_us, end_us, mailing_id]
    else:
        if plan.months is not None:
            parts.append(f"SELECT {agg_cols} FROM report_soft_monthly WHERE month >= ? AND month < ?")
            params += list(plan.months)
        for lo, hi in plan.days:
            parts.append(f"SELECT {agg_cols} FROM report_soft_daily WHERE day >= ? AND day < ?")
            params += [lo, hi]
        for lo, hi in plan.raw:
            parts.append(raw)
            params += [lo, hi]
    if not parts:
        parts.append(f"SELECT {agg_cols} FROM report_soft_daily WHERE 0")
    union = "\nUNION ALL\n".join(parts)
    sql = (
        "SELECT agg.g, t.recipient_domain, t.text_key, agg.amount, t.diagnostic, t.reply_code, t.status,"
        " t.reason\n"
        f"FROM (SELECT g, tid, sum(n) AS amount FROM (\n{union}\n) GROUP BY g, tid) AS agg\n"
        "JOIN report_soft_texts AS t ON t.id = agg.tid\n"
        "ORDER BY agg.amount DESC, agg.g, t.recipient_domain, t.text_key"
    )
    return sql, params


class ReportMixin(SQLiteConnection):
    async def soft_bounce_groups(
        self,
        start: datetime,
        end: datetime,
        group_by: ReportGrouping = ReportGrouping.FROM_DOMAIN,
        mailing_id: str | None = None,
    ) -> AsyncIterator[SoftBounceGroup]:
        """Soft-bounce counts for [start, end), one per (group, recipient domain, text key),
        largest first. Exact: every amount equals a count of the soft events in the period."""
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
        """`soft_bounce_groups` in batches (for big reports: far less overhead per row)."""
        start_us, end_us = to_micros(start), to_micros(end)
        plan = plan_period(start_us, end_us)
        sql, params = _soft_groups_sql(
            plan, _GROUP_COLUMN[ReportGrouping(group_by)], mailing_id, start_us, end_us
        )
        async for rows in self._stream(sql, params):
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

    async def _stream(self, sql: str, params: list[Any]) -> AsyncIterator[list[Any]]:
        """Rows of one query in batches, on a connection of its own (a long report neither
        holds up the shared reader nor takes more than its bounded cache). The next batch is
        fetched while the caller works on the current one."""
        conn = await self._report_connection()
        pending: asyncio.Future[Any] | None = None
        try:
            cursor = await conn.execute(sql, params)
            pending = asyncio.ensure_future(cursor.fetchmany(_FETCH))
            while True:
                rows = await pending
                pending = None
                if not rows:
                    break
                pending = asyncio.ensure_future(cursor.fetchmany(_FETCH))
                yield list(rows)
            await cursor.close()
        except sqlite3.Error as exc:
            raise StoreError(f"report query failed: {exc}") from exc
        finally:
            if pending is not None:  # the caller stopped early: let the fetch finish first
                await asyncio.gather(pending, return_exceptions=True)
            if conn is not self._reader:
                await conn.close()

    async def _report_connection(self) -> aiosqlite.Connection:
        if self._path == ":memory:":
            return self._reader
        try:
            conn = await aiosqlite.connect(
                f"{Path(self._path).resolve().as_uri()}?mode=ro", uri=True, isolation_level=None
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self._path} for a report: {exc}") from exc
        try:
            await conn.execute(f"PRAGMA busy_timeout = {int(self._config.busy_timeout * 1000)}")
            # Grouping and sorting a month's cells in memory, not in spill files; bounded.
            await conn.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
        except BaseException:
            await conn.close()
            raise
        return conn
