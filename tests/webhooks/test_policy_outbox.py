"""Suppressions the bounce policy makes outside a bounce's recording (soft thresholds, the
guard's trip, an admin's quarantine confirm) write their webhook events in the same
transaction, on a real store (SQLite file, PostgreSQL database); and the guard's trip writes
one guard_tripped event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bounced.model import BounceEvent, BounceKind, Reason, WebhookEvent
from bounced.store.base import Store
from bounced.webhooks.payload import event_dict
from tests.events import keyed
from tests.rawsql import fail_writes, rows
from tests.store_helpers import is_suppressed, record_events

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
TEXT = "550 5.1.1 <EMAIL>: user unknown"
GROUP = ("domain", "big.example", TEXT)


def _hard(i: int, minutes_ago: float = 1) -> BounceEvent:
    rcpt = f"u{i}@big.example"
    return keyed(BounceEvent(
        rcpt, BounceKind.HARD, Reason.USERUNKNOWN, NOW - timedelta(minutes=minutes_ago),
        diagnostic=f"550 5.1.1 <{rcpt}>: user unknown", reply_code=550, signed=True, suppress=True,
        text_key=TEXT, sending_ip="192.0.2.7", mailing_id="m-7",
    ))  # fmt: skip


async def _events(store: Store) -> list[WebhookEvent]:
    ids = [r[0] for r in await rows(store, "SELECT id FROM webhook_events ORDER BY id")]
    found = [await store.get_webhook_event(i) for i in ids]
    return [e for e in found if e is not None]


async def test_guard_trip_and_confirm_fire_removed_tripped_and_added(
    store: Store,
) -> None:
    store.enable_webhook_outbox(True)
    await record_events(store, None, [_hard(i) for i in range(3)], NOW)
    before = len(await _events(store))  # hard_bounce + suppression_added per bounce
    assert before == 6

    moved = await store.trip_guard(GROUP, NOW - timedelta(minutes=10), NOW, {"count": 3, "window": 600})
    assert moved == 3
    new = (await _events(store))[before:]
    removed = [e for e in new if e.type == "suppression_removed"]
    assert sorted(e.recipient for e in removed) == ["u0@big.example", "u1@big.example", "u2@big.example"]
    assert all(e.kind == "hard" and e.mailing_id == "m-7" and e.bounce_event_id for e in removed)
    assert all(e.diagnostic and "mass-failure guard" in e.diagnostic for e in removed)
    (tripped,) = [e for e in new if e.type == "guard_tripped"]
    body = event_dict(tripped)
    assert body["guard"] == {
        "scope": "domain", "key": "big.example", "text_key": TEXT, "count": 3, "held": 3, "window": 600,
    }  # fmt: skip
    assert body["recipient"] == "" and body["diagnostic"] == TEXT
    assert "guard" not in event_dict(removed[0])  # other bodies keep schema 1 as it was

    # a second group of the same incident: recorded, no second alert
    count = len(await _events(store))
    assert await store.trip_guard(("ip", "192.0.2.7", TEXT), NOW - timedelta(minutes=10), NOW) == 0
    assert len(await _events(store)) == count

    await store.add_suppression("u1@big.example", "asked", "alice", NOW)  # already on the list: no event
    count = len(await _events(store))
    assert await store.confirm_quarantine("carla", NOW, domain="big.example") == 3
    added = (await _events(store))[count:]
    assert sorted((e.type, e.recipient) for e in added) == [
        ("suppression_added", "u0@big.example"),
        ("suppression_added", "u2@big.example"),
    ]
    assert all(e.reason == "userunknown" and e.signed for e in added)


async def test_soft_threshold_suppression_fires_suppression_added(store: Store) -> None:
    store.enable_webhook_outbox(True)
    soft = keyed(BounceEvent(
        "s@dest.example", BounceKind.SOFT, Reason.MAILBOXFULL, NOW, diagnostic="452 4.2.2 mailbox full",
        reply_code=452, signed=True, mailing_id="m-9",
    ))  # fmt: skip
    recorded = await record_events(store, None, [soft], NOW)
    event_id = recorded[0]
    count = len(await _events(store))
    assert await store.suppress_by_policy("s@dest.example", "softbounce-threshold", event_id, NOW, "3 soft")
    (added,) = (await _events(store))[count:]
    assert (added.type, added.recipient, added.reason) == (
        "suppression_added",
        "s@dest.example",
        "softbounce-threshold",
    )
    assert (added.kind, added.diagnostic, added.mailing_id, added.bounce_event_id) == (
        "soft", "452 4.2.2 mailbox full", "m-9", event_id,
    )  # fmt: skip
    assert not await store.suppress_by_policy(
        "s@dest.example", "softbounce-threshold", event_id, NOW, "again"
    )
    assert len(await _events(store)) == count + 1
    assert await store.suppress_by_policy("p@dest.example", "softbounce-threshold", None, NOW, "no event")
    last = (await _events(store))[-1]
    assert (last.recipient, last.kind, last.reason) == ("p@dest.example", "policy", "softbounce-threshold")


async def test_a_rolled_back_suppression_writes_no_event(store: Store) -> None:
    store.enable_webhook_outbox(True)
    await fail_writes(store, "audit_log", True, "INSERT")  # the whole change rolls back
    with pytest.raises(Exception, match="disk on fire"):
        await store.suppress_by_policy("r@dest.example", "softbounce-threshold", None, NOW, "x")
    assert not await is_suppressed(store, "r@dest.example")
    assert await _events(store) == []


async def test_no_hooks_no_rows(store: Store) -> None:
    await record_events(store, None, [_hard(0)], NOW)
    await store.trip_guard(GROUP, NOW - timedelta(minutes=10), NOW, {"count": 1, "window": 600})
    assert await store.suppress_by_policy("x@dest.example", "softbounce-threshold", None, NOW, "x")
    assert await _events(store) == []
