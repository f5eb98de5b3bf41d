"""The guard's counts, trips and the quarantine, on a real SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bounced.model import BounceEvent, BounceKind, Reason
from bounced.store.sqlite import SQLiteStore
from tests.store_helpers import guard_trip_count, is_suppressed, record_events

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
TEXT = "550 5.1.1 <EMAIL>: user unknown"


def _hard(i: int, signed: bool, minutes_ago: float = 1) -> BounceEvent:
    rcpt = f"u{i}@big.example"
    return BounceEvent(
        rcpt, BounceKind.HARD, Reason.USERUNKNOWN, NOW - timedelta(minutes=minutes_ago),
        diagnostic=f"550 5.1.1 <{rcpt}>: user unknown", reply_code=550, signed=signed, suppress=True,
        text_key=TEXT, sending_ip="192.0.2.7",
    )  # fmt: skip


async def test_counts_within_the_window_signed_or_all(store: SQLiteStore) -> None:
    events = [_hard(0, True), _hard(1, False), _hard(2, True, minutes_ago=30)]
    await record_events(store, None, events, NOW)
    domain, ip = ("domain", "big.example", TEXT), ("ip", "192.0.2.7", TEXT)
    since = NOW - timedelta(minutes=10)
    assert await store.guard_state([domain, ip], since) == ({domain: 2, ip: 2}, set())
    assert await store.guard_state([domain], since, signed_only=True) == ({domain: 1}, set())


async def test_trip_moves_the_window_s_suppressions_to_quarantine(store: SQLiteStore) -> None:
    await record_events(store, None, [_hard(i, True, minutes_ago=i) for i in range(4)], NOW)
    await store.add_suppression("u9@big.example", "asked", "alice", NOW)
    assert await store.count_suppressions() == 5
    group = ("domain", "big.example", TEXT)
    moved = await store.trip_guard(group, NOW - timedelta(minutes=2.5), NOW)
    assert moved == 3  # u0, u1, u2: within the window; u3 older; the admin entry stays
    assert {e.address for e in await store.list_suppressions()} == {"u3@big.example", "u9@big.example"}
    profile = await store.get_profile("u0@big.example")
    assert profile is not None and profile.status.value == "active"
    held = await store.list_quarantine()
    assert sorted(e.address for e in held) == ["u0@big.example", "u1@big.example", "u2@big.example"]
    assert (await store.guard_state([group], NOW - timedelta(minutes=1)))[1] == {group}
    assert await guard_trip_count(store) == 1
    assert [a.actor for a in await store.audit_entries("u0@big.example")] == ["bounce", "guard"]
    released = next(e for e in held if e.address == "u0@big.example")
    assert await store.release_quarantine("carla", NOW, ids=[released.id]) == 1
    assert await store.confirm_quarantine("carla", NOW, domain="BIG.example") == 2
    assert await is_suppressed(store, "u1@big.example") and not await is_suppressed(store, "u0@big.example")
    assert await store.list_quarantine() == []
    states = sorted(e.state for e in await store.list_quarantine(None))
    assert states == ["confirmed", "confirmed", "released"]
    # active while hard bounces keep coming; stale once the window passes without one
    await store.touch_guard([group], NOW + timedelta(minutes=9))
    assert (await store.guard_state([group], NOW + timedelta(minutes=5)))[1] == {group}
    assert (await store.guard_state([group], NOW + timedelta(minutes=10)))[1] == set()
