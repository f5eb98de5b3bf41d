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
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite

from bounced.errors import StoreError
from bounced.model import ReportGrouping
from bounced.store.report_streams import ReportStreams
from bounced.store.sqlite.connection import SQLiteConnection, to_micros

__all__ = ["DAY_MICROS", "GROUP_COLUMN", "PeriodPlan", "ReportMixin", "plan_period", "soft_groups_sql"]

DAY_MICROS = 86_400 * 1_000_000
_FETCH = 2000
_PREFETCH_THREADS = 8  # concurrent readers warming the text rows' pages (see _TextPrefetch)
_PREFETCH_SPAN = 28 * 86_400 * 1_000_000  # periods from four weeks up (all mailings) use them
_CACHE_KIB = 64 * 1024  # page cache and sorter memory of a report connection
_EPOCH_DAY = date(1970, 1, 1)
GROUP_COLUMN = {ReportGrouping.FROM_DOMAIN: "from_domain", ReportGrouping.IP: "sending_ip"}


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


def soft_groups_sql(
    plan: PeriodPlan, column: str, mailing_id: str | None, start_us: int, end_us: int, collate: str = ""
) -> tuple[str, list[Any]]:
    """The report's cells for a period, largest first; ties in byte order of the text
    columns (`collate`: the clause that gives byte order where the default is not, e.g.
    PostgreSQL's ' COLLATE "C"'; SQLite's default BINARY already is)."""
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
        parts.append(f"SELECT {agg_cols} FROM report_soft_daily WHERE false")
    union = "\nUNION ALL\n".join(parts)
    sql = (
        "SELECT agg.g, t.recipient_domain, t.text_key, agg.amount, t.diagnostic, t.reply_code, t.status,"
        " t.reason\n"
        "FROM (SELECT g, tid, CAST(sum(n) AS BIGINT) AS amount"  # sum: numeric on PostgreSQL
        f" FROM (\n{union}\n) AS cells GROUP BY g, tid) AS agg\n"
        "JOIN report_soft_texts AS t ON t.id = agg.tid\n"
        f"ORDER BY agg.amount DESC, agg.g{collate}, t.recipient_domain{collate}, t.text_key{collate}"
    )
    return sql, params


class _TextPrefetch:
    """Reads `report_soft_texts` in `_PREFETCH_THREADS` rowid slices at once, each on a
    read-only connection of its own (GIL released while SQLite reads), while the report's
    query runs.

    Why: the report joins each of its cells to its text row. Those rows were written by
    triggers between millions of events, so their pages lie scattered over the whole file,
    and one query reads them one random page at a time: cold, that was half the report
    (1.1-1.4 s for a month). Several readers at once keep the disk busy (the same pages in
    ~0.2-0.3 s); the query then finds them in the OS page cache. Only used for periods of four
    weeks or more (whose cells refer to most text rows anyway); warm, it costs ~0.1 s of CPU
    on another core. It reads nothing the report does not read and holds no data: each
    connection's cache is 1 MiB."""

    def __init__(self, path: str) -> None:
        self._uri = f"{Path(path).resolve().as_uri()}?mode=ro"
        self._lock = threading.Lock()
        self._conns: list[sqlite3.Connection] = []
        self._stopped = False
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start the readers (from a thread of their own: nothing here blocks the caller)."""
        launcher = threading.Thread(target=self._launch, name="report-prefetch", daemon=True)
        self._threads.append(launcher)
        launcher.start()

    def _launch(self) -> None:
        try:
            conn = sqlite3.connect(self._uri, uri=True)
            try:
                # Two subqueries: min() and max() together in one SELECT would scan the table.
                low, high = conn.execute(
                    "SELECT (SELECT min(id) FROM report_soft_texts), (SELECT max(id) FROM report_soft_texts)"
                ).fetchone()
            finally:
                conn.close()
        except sqlite3.Error:
            return  # only a warm-up: the report's own query reports real problems
        if low is None:
            return
        step = (high - low) // _PREFETCH_THREADS + 1
        readers = [
            threading.Thread(target=self._read, args=(lo, lo + step), name="report-prefetch", daemon=True)
            for lo in range(low, high + 1, step)
        ]
        with self._lock:
            if self._stopped:
                return
            self._threads.extend(readers)
        for thread in readers:
            thread.start()

    def _read(self, lo: int, hi: int) -> None:
        try:
            conn = sqlite3.connect(self._uri, uri=True, check_same_thread=False)
        except sqlite3.Error:
            return
        try:
            with self._lock:
                if self._stopped:
                    return
                self._conns.append(conn)
            # Touches every row's page (the example text included); nothing is kept.
            conn.execute(
                "SELECT sum(length(diagnostic)) FROM report_soft_texts WHERE id >= ? AND id < ?", (lo, hi)
            )
        except sqlite3.Error:
            pass  # interrupted (the report ended first) or unreadable: only a warm-up
        finally:
            with self._lock:
                if conn in self._conns:
                    self._conns.remove(conn)
            conn.close()

    def stop(self) -> None:
        """Interrupt the readers still running and wait for them (quick)."""
        with self._lock:
            self._stopped = True
            for conn in self._conns:
                conn.interrupt()
        self._threads[0].join()  # the launcher: no reader starts after this
        with self._lock:
            for conn in self._conns:
                conn.interrupt()
        for thread in self._threads[1:]:
            thread.join()


class ReportMixin(ReportStreams, SQLiteConnection):
    async def soft_bounce_cell_batches(
        self,
        start: datetime,
        end: datetime,
        group_by: ReportGrouping = ReportGrouping.FROM_DOMAIN,
        mailing_id: str | None = None,
    ) -> AsyncIterator[list[tuple[Any, ...]]]:
        """The same cells as plain tuples in `SoftBounceGroup`'s field order (group '' when
        unknown), for the report writer: no object per row on a report's hot path."""
        start_us, end_us = to_micros(start), to_micros(end)
        plan = plan_period(start_us, end_us)
        sql, params = soft_groups_sql(
            plan, GROUP_COLUMN[ReportGrouping(group_by)], mailing_id, start_us, end_us
        )
        prefetch = None
        if mailing_id is None and end_us - start_us >= _PREFETCH_SPAN and self._path != ":memory:":
            prefetch = _TextPrefetch(self._path)
            prefetch.start()
        try:
            async for rows in self._stream(sql, params):
                yield rows
        finally:
            if prefetch is not None:
                await asyncio.to_thread(prefetch.stop)

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
                yield rows
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
