"""Bounces received over real SMTP reach a real RabbitMQ queue from the webhook outbox: one
persistent message per event, routing key per type, the webhook body byte for byte, the
event id as message_id (each event exactly once after de-duplication by it)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from bounced.webhooks import service
from bounced.webhooks.rabbitmq import EVENT_TYPE_HEADER
from tests.brokers.outbox import (
    broker_config,
    deduplicated,
    outbox_ids,
    send_bounce,
    until_all_delivered,
)
from tests.brokers.rabbit import RabbitQueue
from tests.harness import running_daemon
from tests.webhooks.receiver import Receiver


async def test_bounces_over_smtp_reach_the_queue_as_the_webhook_bodies(
    tmp_path: Path, rabbit: RabbitQueue, receiver: Receiver
) -> None:
    hook = {"url": receiver.url, "secret": "whsec-0123456789abcdef", "name": "platform"}
    async with running_daemon(broker_config(tmp_path, rabbit, webhooks=[hook])) as d:
        for n in range(4):
            await send_bounce(d, n)
        for n in range(4, 6):
            await send_bounce(d, n, soft=True)
        await d.drained()
        expected = await outbox_ids(d)
        assert len(expected) == 4 * 2 + 2  # hard_bounce + suppression_added; soft_bounce
        await rabbit.wait_for_ids(expected)
        await until_all_delivered(d, "rabbit")
        webhook = {r.event["id"]: r.body for r in await receiver.wait_for(len(expected))}
        assert set(webhook) == expected  # one outbox, both sinks
        assert d.daemon.webhooks is not None and d.daemon.webhooks.stats.dead_lettered == 0

    kept = deduplicated(rabbit.received)
    assert set(kept) == expected
    for event_id, m in kept.items():
        event = m.event
        assert m.body == webhook[event_id]  # the webhook body, byte for byte
        assert event["id"] == event_id and event["schema"] == 1
        assert m.routing_key == f"bounced.{event['type']}"
        assert m.type == event["type"] and m.headers[EVENT_TYPE_HEADER] == event["type"]
        assert m.content_type == "application/json" and m.delivery_mode == 2  # persistent
    types = sorted(m.event["type"] for m in kept.values())
    assert types == ["hard_bounce"] * 4 + ["soft_bounce"] * 2 + ["suppression_added"] * 4
    hard = next(m.event for m in kept.values() if m.event["recipient"] == "user0@dest.example")
    assert (hard["kind"], hard["reason"], hard["status"]) == ("hard", "userunknown", "5.1.1")
    order: dict[str, list[str]] = {}  # per recipient, as the queue got them
    for m in rabbit.received:
        order.setdefault(m.event["recipient"], []).append(m.event["type"])
    for n in range(6):  # per recipient in order: a hard bounce before its suppression
        want = ["hard_bounce", "suppression_added"] if n < 4 else ["soft_bounce"]
        assert order[f"user{n}@dest.example"] == want


async def test_events_filter_prefix_and_replay(tmp_path: Path, rabbit: RabbitQueue) -> None:
    broker = {"events": ["suppression_added"], "routing_key_prefix": "mail."}
    config = broker_config(tmp_path, rabbit, broker)
    async with running_daemon(config) as d:
        for n in range(3):
            await send_bounce(d, n)
        await d.drained()
        expected = await outbox_ids(d, ("suppression_added",))
        assert len(expected) == 3
        await rabbit.wait_for_ids(expected)
        await until_all_delivered(d, "rabbit")
        assert len(rabbit.received) == 3
        # `bounced hooks replay --hook rabbit` (the same function): published again, same ids
        now = d.daemon.clock.now()
        since = now - timedelta(hours=1)
        assert await service.replay(d.store, d.config, since, now, "rabbit") == {"rabbit": 3}
        async with asyncio.timeout(30):
            while len(rabbit.received) < 6:
                await asyncio.sleep(0.02)
        await until_all_delivered(d, "rabbit")
    kept = deduplicated(rabbit.received)  # each twice, identical: one after de-duplication
    assert set(kept) == expected and len(rabbit.received) == 6
    assert {m.routing_key for m in kept.values()} == {"mail.suppression_added"}
