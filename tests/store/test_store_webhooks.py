"""The webhook outbox in the store: written with the change or not at all, per-recipient order,
per-hook cursors, replay and pruning."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from bounced.errors import StoreError
from bounced.model import Action, BounceEvent, BounceKind, Reason, WebhookState
from bounced.store.base import IntakeRecording, Store
from tests.events import keyed
from tests.rawsql import count, fail_writes, rows

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
ALL = ("hard_bounce", "soft_bounce", "suppression_added", "suppression_removed")


def hard(recipient: str, suppress: bool = True, **extra: object) -> BounceEvent:
    return keyed(BounceEvent(
        recipient=recipient, kind=BounceKind.HARD, reason=Reason.USERUNKNOWN, received_at=NOW,
        action=Action.FAILED, status="5.1.1", reply_code=550, diagnostic="550 5.1.1 unknown",
        signed=True, suppress=suppress, **extra,  # type: ignore[arg-type]
    ))  # fmt: skip


async def test_nothing_is_written_while_no_hook_is_configured(store: Store) -> None:
    await store.record_batch([IntakeRecording(None, (hard("a@example.org"),))], NOW)
    await store.add_suppression("b@example.org", "asked", "admin", NOW)
    assert await count(store, "webhook_events") == 0


async def test_a_rolled_back_change_leaves_no_event(store: Store) -> None:
    store.enable_webhook_outbox(True)
    intake_id = await store.spool(b"Subject: x\r\n\r\n", "", ["b@bounces.test"], "127.0.0.1", NOW)
    await fail_writes(store, "intake", True)  # the last statement of the transaction fails
    with pytest.raises((StoreError, sqlite3.Error)):
        await store.record_batch([IntakeRecording(intake_id, (hard("a@example.org"),))], NOW)
    assert await count(store, "webhook_events") == 0 and await count(store, "bounce_events") == 0
    await fail_writes(store, "intake", False)
    await store.record_batch([IntakeRecording(intake_id, (hard("a@example.org"),))], NOW)
    types = await rows(store, "SELECT type FROM webhook_events ORDER BY id")
    assert types == [("hard_bounce",), ("suppression_added",)]


async def test_a_duplicate_bounce_fires_nothing_twice(store: Store) -> None:
    store.enable_webhook_outbox(True)
    for _ in range(2):
        item = IntakeRecording(None, (hard("a@example.org", message_id="<m@x>"),), bounce_id="<bounce-1@x>")
        await store.record_batch([item], NOW)
    assert await count(store, "webhook_events") == 2  # hard_bounce + suppression_added, once


async def test_later_events_of_a_recipient_wait_for_the_earlier_one(store: Store) -> None:
    store.enable_webhook_outbox(True)
    assert await store.materialize_webhook_deliveries("h", ALL, NOW) == 0  # cursor starts here
    await store.record_batch([IntakeRecording(None, (hard("a@example.org"), hard("b@example.org")))], NOW)
    await store.remove_suppression("a@example.org", "asked", "admin", NOW)
    assert await store.materialize_webhook_deliveries("h", ALL, NOW) == 5
    due = await store.due_webhook_deliveries("h", NOW, 100)
    assert [(d.event.recipient, d.event.type) for d in due] == [
        ("a@example.org", "hard_bounce"),
        ("b@example.org", "hard_bounce"),
    ]
    a_first = due[0]
    later = NOW + timedelta(minutes=5)
    await store.finish_webhook_deliveries([(a_first.id, WebhookState.PENDING, 1, later, None, "HTTP 503")])
    due = await store.due_webhook_deliveries("h", NOW, 100)
    assert [d.event.recipient for d in due] == ["b@example.org"]  # a's next waits behind its retry
    await store.finish_webhook_deliveries([(a_first.id, WebhookState.DEAD, 2, NOW, NOW, "HTTP 503")])
    due = await store.due_webhook_deliveries("h", NOW, 100)
    assert [(d.event.recipient, d.event.type) for d in due] == [
        ("a@example.org", "suppression_added"),
        ("b@example.org", "hard_bounce"),
    ]
    backlog = await store.webhook_backlog("h")
    assert backlog.pending == 4 and backlog.oldest_at == NOW


async def test_each_hook_has_its_cursor_filter_replay_and_pruning(store: Store) -> None:
    store.enable_webhook_outbox(True)
    await store.materialize_webhook_deliveries("all", ALL, NOW)
    await store.materialize_webhook_deliveries("removals", ("suppression_removed",), NOW)
    await store.add_suppression("a@example.org", "asked", "admin", NOW)
    await store.remove_suppression("a@example.org", "asked", "admin", NOW)
    assert await store.materialize_webhook_deliveries("all", ALL, NOW) == 2
    assert await store.materialize_webhook_deliveries("removals", ("suppression_removed",), NOW) == 1
    assert await store.materialize_webhook_deliveries("late", ALL, NOW) == 0  # new hook: from now on
    delivered = await store.list_webhook_deliveries()
    done = NOW + timedelta(seconds=1)
    await store.finish_webhook_deliveries(
        [(d.id, WebhookState.DELIVERED, 1, done, done, None) for d in delivered]
    )
    assert await store.replay_webhooks("all", ALL, NOW, NOW) == 2
    assert await store.replay_webhooks("all", ALL, NOW + timedelta(days=1), NOW) == 0
    assert await store.prune_webhooks(NOW + timedelta(days=1)) == 0  # the replayed ones are pending
    pending = await store.list_webhook_deliveries(state=WebhookState.PENDING)
    await store.finish_webhook_deliveries(
        [(d.id, WebhookState.DELIVERED, 1, done, done, None) for d in pending]
    )
    assert await store.prune_webhooks(NOW) == 0  # not old enough
    assert await store.prune_webhooks(NOW + timedelta(days=1)) == 2
    assert await count(store, "webhook_events") == 0 and await count(store, "webhook_deliveries") == 0
