"""The report's store side: period planning and exact counts against direct counts.

Events go in through `record_events` (the real insert path and its triggers); every cell
the store reports is compared with a count computed here, independently, from the events.
"""

from __future__ import annotations

import itertools
import random
import sqlite3
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bounced.model import Action, BounceEvent, BounceKind, Reason, ReportGrouping, SoftBounceGroup
from bounced.report.bounce_text import normalise_bounce_text
from bounced.store import SQLiteStore, Store
from bounced.store.sqlite.report import DAY_MICROS, plan_period
from tests.events import keyed
from tests.rawsql import execute, rows
from tests.store_helpers import record_events, soft_bounce_groups

T0 = datetime(2026, 1, 20, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

TEXTS = [
    "450 <{a}>: Sender address rejected: Greylisted for {n} seconds! Please, see https://grey.{d}/{n}",
    "451 <{a}>: Recipient address rejected: Intentional policy rejection, please try again later",
    "421 Service Temporarily Unavailable",
    "452 4.2.2 <{a}>: Mailbox full ({n} bytes)",
    "451 4.7.1 Try again later, queue id Q{n}X{n}ZZ from [192.0.2.{m}]",
]
KINDS = [BounceKind.SOFT] * 7 + [
    BounceKind.HARD,
    BounceKind.BLOCKED,
    BounceKind.AUTOREPLY,
    BounceKind.COMPLAINT,
]
FROM_DOMAINS = ["news.shop.test", "mail.bank.test", "info.club.test", None]
IPS = ["198.51.100.1", "198.51.100.2", "2001:db8::7", None]
DOMAINS = ["gmail.com", "web.de", "example.org", "xn--bcher-kva.example", "mail.ru"]
MAILINGS = ["m-1", "m-2", "m-3", None]


def _us(dt: datetime) -> int:
    delta = dt - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


# --- planning --------------------------------------------------------------------------


def _pieces(start: int, end: int) -> list[tuple[int, int]]:
    plan = plan_period(start, end)
    out = list(plan.raw) + [(a * DAY_MICROS, b * DAY_MICROS) for a, b in plan.days]
    if plan.months:
        lo, hi = plan.months
        a = datetime(lo // 100, lo % 100, 1, tzinfo=UTC)
        b = datetime(hi // 100, hi % 100, 1, tzinfo=UTC)
        out.append((_us(a), _us(b)))
    return sorted(out)


@settings(max_examples=400, deadline=None)
@given(
    st.integers(
        min_value=_us(datetime(2024, 1, 1, tzinfo=UTC)), max_value=_us(datetime(2027, 1, 1, tzinfo=UTC))
    ),
    st.integers(min_value=0, max_value=500 * DAY_MICROS),
)
def test_plan_tiles_the_period_exactly(start: int, length: int) -> None:
    pieces = _pieces(start, start + length)
    if length == 0:
        assert pieces == []
        return
    assert pieces[0][0] == start and pieces[-1][1] == start + length
    for (_, end_a), (start_b, _) in itertools.pairwise(pieces):
        assert end_a == start_b  # no gap, no overlap
    assert all(a < b for a, b in pieces)


def test_plan_uses_months_days_and_raw_edges() -> None:
    start = _us(datetime(2026, 1, 15, 6, tzinfo=UTC))
    end = _us(datetime(2026, 4, 3, 12, tzinfo=UTC))
    plan = plan_period(start, end)
    assert plan.months == (202602, 202604)
    assert len(plan.days) == 2 and len(plan.raw) == 2
    aligned = plan_period(_us(datetime(2026, 3, 1, tzinfo=UTC)), _us(datetime(2026, 4, 1, tzinfo=UTC)))
    assert aligned.months == (202603, 202604) and aligned.days == () and aligned.raw == ()


# --- exact counts ----------------------------------------------------------------------


def _make_events(seed: int, count: int) -> list[BounceEvent]:
    rng = random.Random(seed)
    events = []
    for i in range(count):
        domain = rng.choice(DOMAINS)
        template = rng.choice(TEXTS)
        diagnostic = template.format(
            a=f"user{rng.randint(1, 50)}@{domain}", d=domain, n=rng.randint(1, 9999), m=rng.randint(1, 254)
        )
        kind = rng.choice(KINDS)
        events.append(
            keyed(
                BounceEvent(
                    recipient=f"user{rng.randint(1, 50)}@{domain}",
                    kind=kind,
                    reason=Reason.GREYLISTED if kind is BounceKind.SOFT else Reason.USERUNKNOWN,
                    received_at=T0 + timedelta(seconds=rng.randint(0, 75 * 86_400)),
                    action=Action.DELAYED if kind is BounceKind.SOFT else Action.FAILED,
                    status="4.2.0" if kind is BounceKind.SOFT else "5.1.1",
                    reply_code=int(diagnostic[:3]),
                    diagnostic=diagnostic,
                    mailing_id=rng.choice(MAILINGS),
                    from_domain=rng.choice(FROM_DOMAINS),
                    sending_ip=rng.choice(IPS),
                    message_id=f"<msg-{i}@sender.test>",  # distinct: every event is a new bounce
                )
            )
        )
    return events


def _expected(
    events: list[BounceEvent], start: datetime, end: datetime, group_by: ReportGrouping, mailing: str | None
) -> Counter[tuple[str | None, str, str]]:
    counts: Counter[tuple[str | None, str, str]] = Counter()
    for e in events:
        if e.kind is not BounceKind.SOFT or not (start <= e.received_at < end):
            continue
        if mailing is not None and e.mailing_id != mailing:
            continue
        group = e.from_domain if group_by is ReportGrouping.FROM_DOMAIN else e.sending_ip
        counts[(group, e.recipient_domain, normalise_bounce_text(e.diagnostic, e.reply_code))] += 1
    return counts


async def _report(
    store: SQLiteStore, start: datetime, end: datetime, group_by: ReportGrouping, mailing: str | None = None
) -> list[SoftBounceGroup]:
    return [g async for g in soft_bounce_groups(store, start, end, group_by, mailing)]


async def _record(store: SQLiteStore, events: list[BounceEvent]) -> None:
    for i in range(0, len(events), 50):
        await record_events(store, None, events[i : i + 50], T0)


PERIODS = [
    (datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)),  # one whole month
    (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC)),  # everything
    (datetime(2026, 1, 25, 13, 7, tzinfo=UTC), datetime(2026, 3, 9, 2, 30, tzinfo=UTC)),  # edges
    (  # an offset: midnight in UTC+02:00 is 22:00 UTC the day before
        datetime(2026, 2, 10, tzinfo=timezone(timedelta(hours=2))),
        datetime(2026, 3, 20, tzinfo=timezone(timedelta(hours=2))),
    ),
    (datetime(2026, 2, 14, 9, tzinfo=UTC), datetime(2026, 2, 14, 17, tzinfo=UTC)),  # inside one day
]


@pytest.mark.parametrize("group_by", list(ReportGrouping))
async def test_every_cell_equals_a_direct_count(store: SQLiteStore, group_by: ReportGrouping) -> None:
    events = _make_events(seed=7, count=900)
    await _record(store, events)
    for start, end in PERIODS:
        for mailing in (None, "m-2"):
            got = await _report(store, start, end, group_by, mailing)
            want = _expected(events, start, end, group_by, mailing)
            assert {(g.group, g.recipient_domain, g.text_key): g.amount for g in got} == dict(want)
            assert len(got) == len(want)  # no cell twice
            # largest first, ties in a fixed order
            order = [(-g.amount, g.group or "", g.recipient_domain, g.text_key) for g in got]
            assert order == sorted(order)


async def test_examples_are_real_texts_of_their_cell(store: SQLiteStore) -> None:
    events = _make_events(seed=11, count=300)
    await _record(store, events)
    by_cell: dict[tuple[str, str], set[str]] = {}
    for e in events:
        if e.kind is BounceKind.SOFT:
            key = normalise_bounce_text(e.diagnostic, e.reply_code)
            by_cell.setdefault((e.recipient_domain, key), set()).add(e.diagnostic)
    got = await _report(store, T0, T0 + timedelta(days=80), ReportGrouping.IP)
    assert got
    for g in got:
        assert g.example in by_cell[(g.recipient_domain, g.text_key)]
        assert g.reason == Reason.GREYLISTED.value and g.reply_code == int(g.text_key[:3])


async def test_empty_period_and_no_soft_events(store: SQLiteStore) -> None:
    events = [e for e in _make_events(seed=3, count=100) if e.kind is not BounceKind.SOFT]
    await _record(store, events)
    assert await _report(store, T0, T0 + timedelta(days=90), ReportGrouping.FROM_DOMAIN) == []
    assert await _report(store, T0, T0, ReportGrouping.FROM_DOMAIN) == []


_MONTH = {
    "sqlite": "CAST(strftime('%Y%m', received_at / 1000000, 'unixepoch') AS INTEGER)",
    "postgresql": "bounced_month(received_at)",
}


async def _aggregates_match_events(store: Store, backend: str) -> None:
    """The triggers' tables equal a GROUP BY over the raw events (the definition)."""
    for table, bucket in (
        ("report_soft_daily", "received_at / 86400000000"),
        ("report_soft_monthly", _MONTH[backend]),
    ):
        agg = set(
            await rows(
                store,
                f"SELECT a.*, t.recipient_domain, t.text_key FROM {table} AS a"
                " JOIN report_soft_texts AS t ON t.id = a.text_id",
            )
        )
        direct = set(
            await rows(
                store,
                f"SELECT {bucket}, coalesce(from_domain, ''), coalesce(sending_ip, ''), t.id, count(*),"
                " t.recipient_domain, t.text_key FROM bounce_events AS e JOIN report_soft_texts AS t"
                " ON t.recipient_domain = e.recipient_domain AND t.text_key = e.text_key"
                " WHERE kind = 'soft' GROUP BY 1, 2, 3, 4, t.id",
            )
        )
        assert agg == direct, table


async def test_aggregates_follow_updates_and_deletes(store: Store, backend: str) -> None:
    events = _make_events(seed=5, count=400)
    await _record(store, events)
    await _aggregates_match_events(store, backend)
    # Whatever maintenance might do later (reclassify, re-attribute, prune), counts follow.
    await execute(
        store,
        "UPDATE bounce_events SET kind = 'hard' WHERE id % 7 = 0 AND kind = 'soft';"
        "UPDATE bounce_events SET kind = 'soft' WHERE id % 11 = 0 AND kind = 'blocked';"
        "UPDATE bounce_events SET from_domain = NULL WHERE id % 5 = 0;"
        "UPDATE bounce_events SET sending_ip = '203.0.113.9' WHERE id % 6 = 0;"
        "UPDATE bounce_events SET received_at = received_at + 40 * 86400000000 WHERE id % 4 = 0;"
        "UPDATE bounce_events SET text_key = 'x' WHERE id % 9 = 0;"
        "DELETE FROM bounce_events WHERE id % 3 = 0;",
    )
    await _aggregates_match_events(store, backend)


async def test_a_reader_may_stop_early(store: SQLiteStore) -> None:
    await _record(store, _make_events(seed=9, count=200))
    stream = soft_bounce_groups(store, T0, T0 + timedelta(days=80), ReportGrouping.FROM_DOMAIN)
    first = await anext(stream)
    await stream.aclose()  # the report connection is closed, the fetch in flight awaited
    assert first.amount >= 1
    again = await _report(store, T0, T0 + timedelta(days=80), ReportGrouping.FROM_DOMAIN)
    assert again[0] == first


async def test_migration_counts_events_recorded_before_it(db_path: Path) -> None:
    """A database that already holds events gets exact aggregates when 0003 runs."""
    from importlib import resources

    from bounced.config.storage import StorageConfig
    from bounced.store import open_store

    folder = resources.files("bounced.store") / "migrations"
    conn = sqlite3.connect(db_path)
    for name in ("0001_core.sql", "0002_outbox.sql"):
        conn.executescript((folder / name).read_text(encoding="utf-8"))
    conn.execute("PRAGMA user_version = 2")
    events = _make_events(seed=21, count=300)
    with conn:
        conn.executemany(
            "INSERT INTO bounce_events (received_at, recipient, recipient_domain, kind, reason, reply_code,"
            " diagnostic, text_key, from_domain, sending_ip, mailing_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    _us(e.received_at),
                    e.recipient,
                    e.recipient_domain,
                    e.kind.value,
                    e.reason.value,
                    e.reply_code,
                    e.diagnostic,
                    normalise_bounce_text(e.diagnostic, e.reply_code),
                    e.from_domain,
                    e.sending_ip,
                    e.mailing_id,
                )
                for e in events
            ],
        )
    conn.close()
    store = await open_store(StorageConfig(path=str(db_path), busy_timeout=5.0))
    try:
        await _aggregates_match_events(store, "sqlite")
        start, end = PERIODS[1]
        got = await _report(store, start, end, ReportGrouping.IP)
        want = _expected(events, start, end, ReportGrouping.IP, None)
        assert {(g.group, g.recipient_domain, g.text_key): g.amount for g in got} == dict(want)
    finally:
        await store.close()
