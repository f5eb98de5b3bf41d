"""The outbox dispatcher: sends outbox events to each sink (webhook receivers, brokers), at
least once, in order per recipient.

Per sink, one loop: copy new outbox events into the sink's delivery queue, take the due
deliveries that head their recipient's queue, hand them to the sink (bounced/webhooks/sink.py)
and record each outcome: taken (2xx, broker confirm) is delivered; anything else (status,
timeout, refused connection, nack) is retried after `retry_initial` doubling up to
`retry_max_delay`, and dead-lettered once the event is `retry_for` old. A crash between a
send and its record sends that event again on restart: receivers de-duplicate by the event
id (Idempotency-Key header, AMQP message_id).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from bounced.clock import Clock
from bounced.config.webhooks import WebhookDeliveryConfig
from bounced.errors import StoreUnavailable
from bounced.logfmt import kv
from bounced.model import WebhookDelivery, WebhookState
from bounced.store.base import WebhookStore
from bounced.webhooks.sink import Sink

__all__ = ["DispatcherStats", "WebhookDispatcher", "retry_delay"]

log = logging.getLogger("bounced.webhooks")


@dataclass(slots=True)
class DispatcherStats:
    """Counters for metrics (all sinks together); `lag_seconds` and `pending` are refreshed
    every pass."""

    delivered: int = 0
    failed_attempts: int = 0
    dead_lettered: int = 0
    lag_seconds: float = 0.0  # age of the oldest event not yet delivered or dead-lettered
    pending: int = 0  # deliveries not yet delivered or dead-lettered (the backlog)


def retry_delay(attempts: int, config: WebhookDeliveryConfig) -> float:
    """Seconds before the next try after `attempts` failed ones (1, 2, ...)."""
    return min(config.retry_initial * 2 ** min(attempts - 1, 40), config.retry_max_delay)


class WebhookDispatcher:
    def __init__(
        self,
        store: WebhookStore,
        sinks: list[Sink],
        config: WebhookDeliveryConfig,
        clock: Clock,
    ) -> None:
        self.store = store
        self.sinks = sinks
        self.config = config
        self.clock = clock
        self.stats = DispatcherStats()
        self._wake = asyncio.Event()
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self._last_prune: datetime | None = None
        # A sink whose every send of a pass failed is left alone for a while (doubling like
        # an event's retries): during an outage, one probe per delay instead of one failed
        # attempt per event, so the CPU is there to catch up when it is back.
        self._failed_passes: dict[str, int] = {}
        self._paused_until: dict[str, datetime] = {}
        self._materialized = False
        self._started_at = clock.now()

    def wake(self) -> None:
        """New events were committed: look now rather than at the next poll."""
        self._wake.set()

    async def start(self) -> None:
        self._started_at = self.clock.now()  # a new sink gets the events from here on
        with contextlib.suppress(StoreUnavailable):  # a node whose database is away: at a pass
            await self._materialize()
        self._tasks = [asyncio.create_task(self._run(), name="bounced-webhooks")]

    async def _materialize(self) -> None:
        for sink in self.sinks:  # the cursor of a new sink starts at the newest event
            await self.store.materialize_webhook_deliveries(sink.key, sink.events, self._started_at)
        self._materialized = True

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        for sink in self.sinks:
            await sink.close()

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                if not self._materialized:
                    await self._materialize()
                busy = await self.run_once()
            except Exception:  # the store failed: nothing is lost, try again at the next poll
                log.exception("webhook pass failed", extra=kv(event="webhook_pass_failed"))
                busy = False
            if busy:
                continue
            try:  # first: a stop during it leaves no un-awaited wait()
                wait = await self._idle_wait()
            except Exception:  # the store is away (said by the pass above): the usual poll
                wait = self.config.poll_interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    async def _idle_wait(self) -> float:
        wait = self.config.poll_interval
        now = self.clock.now()
        for sink in self.sinks:
            due = await self.store.next_webhook_due(sink.key)
            paused = self._paused_until.get(sink.key)
            if due is not None and paused is not None:
                due = max(due, paused)
            if due is not None:
                wait = min(wait, max((due - now).total_seconds(), 0.0))
        return max(wait, 0.01)

    async def run_once(self) -> bool:
        """One pass over every sink; True when a sink had a full window (more may be due)."""
        busy = False
        for sink in self.sinks:
            now = self.clock.now()
            await self.store.materialize_webhook_deliveries(sink.key, sink.events, now)
            paused = self._paused_until.get(sink.key)
            if paused is not None and now < paused:
                continue
            due = await self.store.due_webhook_deliveries(sink.key, now, sink.window)
            if due:
                await self._deliver(sink, due)
                busy = busy or len(due) == sink.window
        await self._refresh_lag()
        await self._prune()
        return busy

    async def drain(self, timeout: float = 30.0) -> None:
        """Run passes until nothing is due now (tests, `hooks replay` in a CLI process)."""
        async with asyncio.timeout(timeout):
            while True:
                await self.run_once()
                now = self.clock.now()
                active = [s for s in self.sinks if now >= self._paused_until.get(s.key, now)]
                if not any([await self.store.due_webhook_deliveries(s.key, now, 1) for s in active]):
                    return

    async def _deliver(self, sink: Sink, due: list[WebhookDelivery]) -> None:
        errors = await sink.deliver(due)
        now = self.clock.now()
        rows: list[tuple[int, WebhookState, int, datetime, datetime | None, str | None]] = []
        delivered = dead = 0
        for delivery, error in zip(due, errors, strict=True):
            attempts = delivery.attempts + 1
            if error is None:
                rows.append((delivery.id, WebhookState.DELIVERED, attempts, now, now, None))
                delivered += 1
                continue
            self.stats.failed_attempts += 1
            next_at = now + timedelta(seconds=retry_delay(attempts, self.config))
            if (next_at - delivery.event.at).total_seconds() > self.config.retry_for:
                rows.append((delivery.id, WebhookState.DEAD, attempts, now, now, error))
                dead += 1
                log.error(
                    "webhook dead-lettered",
                    extra=kv(event="webhook_dead", hook=sink.key, event_id=delivery.event.id,
                             attempts=attempts, error=error),
                )  # fmt: skip
            else:
                rows.append((delivery.id, WebhookState.PENDING, attempts, next_at, None, error))
                log.warning(
                    "webhook attempt failed",
                    extra=kv(event="webhook_retry", hook=sink.key, event_id=delivery.event.id,
                             attempts=attempts, next_at=next_at.isoformat(), error=error),
                )  # fmt: skip
        await self.store.finish_webhook_deliveries(rows)
        # Counted once stored: whoever reads the stats then finds the rows in that state.
        self.stats.delivered += delivered
        self.stats.dead_lettered += dead
        if all(error is not None for error in errors):
            failed = self._failed_passes.get(sink.key, 0) + 1
            self._failed_passes[sink.key] = failed
            self._paused_until[sink.key] = now + timedelta(seconds=retry_delay(failed, self.config))
        else:
            self._failed_passes.pop(sink.key, None)
            self._paused_until.pop(sink.key, None)

    async def _refresh_lag(self) -> None:
        backlog = await self.store.webhook_backlog()
        oldest = backlog.oldest_at
        self.stats.pending = backlog.pending
        self.stats.lag_seconds = (
            0.0 if oldest is None else max((self.clock.now() - oldest).total_seconds(), 0.0)
        )

    async def _prune(self) -> None:
        now = self.clock.now()
        if self._last_prune is not None and now - self._last_prune < timedelta(hours=1):
            return
        self._last_prune = now
        pruned = await self.store.prune_webhooks(now - timedelta(days=self.config.keep_days))
        if pruned:
            log.info("webhook events pruned", extra=kv(event="webhook_pruned", count=pruned))
