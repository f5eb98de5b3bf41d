"""Bounces received over real SMTP reach a real RabbitMQ queue from the webhook outbox: one
persistent message per event, routing key per type, the webhook body byte for byte, the
event id as message_id (each event exactly once after de-duplication by it)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bounced.config.webhooks import WEBHOOK_EVENT_TYPES
from bounced.model import WebhookState
from bounced.webhooks import service
from bounced.webhooks.rabbitmq import EVENT_TYPE_HEADER
from tests.apply.bounce_messages import dsn
from tests.brokers.rabbit import Consumed, RabbitQueue, rabbit_url
from tests.harness import RunningDaemon, make_config, running_daemon, send_mail
from tests.webhooks.receiver import Receiver

DOMAIN = "bounces.sender.test"
DELIVERY = {"poll_interval": 0.1, "retry_initial": 0.2, "retry_max_delay": 0.5}


def broker_config(tmp_path: Path, rabbit: RabbitQueue, url: str | None = None, **extra: Any) -> Any:
    broker = {"name": "rabbit", "url": url or rabbit_url(), "exchange": rabbit.exchange, "timeout": 2.0}
    return make_config(
        tmp_path,
        smtp={"domains": [DOMAIN]},
        verp={"unsigned_bounces": "suppress"},
        brokers=[broker],
        webhook_delivery=DELIVERY,
        **extra,
    )


async def send_bounce(d: RunningDaemon, n: int, soft: bool = False) -> None:
    rcpt = f"user{n}@dest.example"
    if soft:
        text = f"452 4.2.2 <{rcpt}>: mailbox full"
        message = dsn(rcpt, "4.2.2", text, "delayed", bounce_id=f"<s{n}@mx.test>")
    else:
        message = dsn(rcpt, "5.1.1", f"550 5.1.1 <{rcpt}>: user unknown", bounce_id=f"<b{n}@mx.test>")
    await send_mail(d.smtp_port, "", [f"b@{DOMAIN}"], message)


async def outbox_ids(d: RunningDaemon, types: tuple[str, ...] = WEBHOOK_EVENT_TYPES) -> set[int]:
    """Every event written to the outbox so far (ids count up from 1), of `types`."""
    ids: set[int] = set()
    event_id = 1
    while (event := await d.store.get_webhook_event(event_id)) is not None:
        if event.type in types:
            ids.add(event_id)
        event_id += 1
    return ids


async def until_all_delivered(d: RunningDaemon, sink: str, timeout: float = 30.0) -> None:
    """The broker confirmed them (the consumer may see a message a moment before that)."""
    async with asyncio.timeout(timeout):
        while True:
            rows = await service.list_deliveries(d.store, sink)
            if rows and all(x.state is WebhookState.DELIVERED for x in rows):
                return
            await asyncio.sleep(0.05)


def deduplicated(received: list[Consumed]) -> dict[int, Consumed]:
    """What a consumer keeps after de-duplicating by message_id; a repeat must be identical."""
    kept: dict[int, Consumed] = {}
    for m in received:
        assert m.message_id is not None
        first = kept.setdefault(int(m.message_id), m)
        assert first.body == m.body
    return kept


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


async def test_events_filter_and_routing_key_prefix(tmp_path: Path, rabbit: RabbitQueue) -> None:
    broker = {
        "name": "rabbit", "url": rabbit_url(), "exchange": rabbit.exchange,
        "events": ["suppression_added"], "routing_key_prefix": "mail.",
    }  # fmt: skip
    config = make_config(
        tmp_path, smtp={"domains": [DOMAIN]}, verp={"unsigned_bounces": "suppress"},
        brokers=[broker], webhook_delivery=DELIVERY,
    )  # fmt: skip
    async with running_daemon(config) as d:
        for n in range(3):
            await send_bounce(d, n)
        await d.drained()
        expected = await outbox_ids(d, ("suppression_added",))
        assert len(expected) == 3
        await rabbit.wait_for_ids(expected)
        await until_all_delivered(d, "rabbit")
    kept = deduplicated(rabbit.received)
    assert set(kept) == expected
    assert {m.routing_key for m in kept.values()} == {"mail.suppression_added"}
