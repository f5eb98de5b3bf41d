"""Where the outbox dispatcher sends events: one small interface for webhooks and brokers.

A sink takes a batch of due deliveries (at most one per recipient: the heads of their
queues) and says, per delivery, whether it now has the event. The dispatcher owns
everything else (cursors, retries with backoff, dead letters, pausing a failing sink,
replay, metrics), so each kind of sink is only its transport.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from bounced.clock import Clock
from bounced.config import Config
from bounced.config.webhooks import WebhookConfig
from bounced.model import WebhookDelivery
from bounced.webhooks.payload import event_body
from bounced.webhooks.poster import Poster

__all__ = ["HttpSink", "Sink", "build_sinks"]


class Sink(Protocol):
    key: str  # the name its delivery state is kept under (a hook's name or url, a broker's name)
    events: Sequence[str]  # the event types it is given
    window: int  # how many due deliveries it takes per pass

    async def deliver(self, batch: Sequence[WebhookDelivery]) -> list[str | None]:
        """Per delivery, in order: None once the receiver has the event (a 2xx answer, the
        broker's confirm), else why not (kept as the delivery's last_error; retried)."""
        ...

    async def close(self) -> None: ...


class HttpSink:
    """A [[webhooks]] receiver: one signed POST per event, `concurrency` at once."""

    def __init__(self, hook: WebhookConfig, poster: Poster, concurrency: int, clock: Clock) -> None:
        self.hook = hook
        self.key = hook.key
        self.events: Sequence[str] = hook.events
        self.window = concurrency * 4  # a few POSTs per connection per pass
        self._poster = poster
        self._concurrency = concurrency
        self._clock = clock

    async def deliver(self, batch: Sequence[WebhookDelivery]) -> list[str | None]:
        gate = asyncio.Semaphore(self._concurrency)

        async def one(delivery: WebhookDelivery) -> str | None:
            async with gate:
                event = delivery.event
                timestamp = int(self._clock.now().timestamp())
                return await self._poster.post(self.hook, event.id, event_body(event), timestamp)

        return list(await asyncio.gather(*(one(d) for d in batch)))

    async def close(self) -> None:
        await self._poster.close()  # shared by every hook; closing twice is a no-op


def build_sinks(config: Config, clock: Clock, poster: Poster | None = None) -> list[Sink]:
    """Every [[webhooks]] and [[brokers]] entry, in config order (hooks share one poster)."""
    delivery = config.webhook_delivery
    shared = poster or Poster(delivery.concurrency)
    sinks: list[Sink] = [HttpSink(hook, shared, delivery.concurrency, clock) for hook in config.webhooks]
    if config.brokers:
        from bounced.webhooks.rabbitmq import RabbitMQSink  # aio-pika only when a broker is configured

        sinks.extend(RabbitMQSink(broker) for broker in config.brokers)
    return sinks
