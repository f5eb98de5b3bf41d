"""The daemon side of the broker tests: bounces over SMTP, the outbox's events, de-duplication."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bounced.config.webhooks import WEBHOOK_EVENT_TYPES
from bounced.model import WebhookState
from bounced.webhooks import service
from tests.apply.bounce_messages import dsn
from tests.brokers.rabbit import Consumed, RabbitQueue, rabbit_url
from tests.harness import RunningDaemon, make_config, send_mail

__all__ = [
    "DELIVERY",
    "DOMAIN",
    "broker_config",
    "deduplicated",
    "outbox_ids",
    "send_bounce",
    "until_all_delivered",
]

DOMAIN = "bounces.sender.test"
DELIVERY = {"poll_interval": 0.1, "retry_initial": 0.2, "retry_max_delay": 0.5}


def broker_config(
    tmp_path: Path, rabbit: RabbitQueue, broker: dict[str, Any] | None = None, **sections: Any
) -> Any:
    """A daemon config with one [[brokers]] entry "rabbit" on the test's exchange (`broker`
    overrides its keys) and quick retries; `sections` as make_config's."""
    entry = {
        "name": "rabbit",
        "url": rabbit_url(),
        "exchange": rabbit.exchange,
        "timeout": 2.0,
        **(broker or {}),
    }
    return make_config(
        tmp_path,
        smtp={"domains": [DOMAIN]},
        verp={"unsigned_bounces": "suppress"},
        brokers=[{**entry, **(broker or {})}],
        webhook_delivery=DELIVERY,
        **sections,
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
