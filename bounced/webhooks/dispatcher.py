"""The webhook dispatcher: POSTs outbox events to each configured hook, at least once, in order
per recipient.

Per hook, one loop: copy new outbox events into the hook's delivery queue, take the due
deliveries that head their recipient's queue, POST them (up to `concurrency` at once), and
record each outcome: 2xx delivered; anything else (status, timeout, refused connection) is
retried after `retry_initial` doubling up to `retry_max_delay`, and dead-lettered once the
event is `retry_for` old. A crash between a POST and its record sends that event again on
restart: receivers de-duplicate by the event id (Idempotency-Key header).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from bounced.clock import Clock
from bounced.config.webhooks import WebhookConfig, WebhookDeliveryConfig
from bounced.logfmt import kv
from bounced.model import WebhookDelivery, WebhookState
from bounced.store.base import WebhookStore
from bounced.webhooks.payload import event_body
from bounced.webhooks.poster import Poster

__all__ = ["DispatcherStats", "WebhookDispatcher", "retry_delay"]

log = logging.getLogger("bounced.webhooks")


@dataclass(slots=True)
class DispatcherStats:
    """Counters for metrics (all hooks together); `lag_seconds` is refreshed every pass."""

    delivered: int = 0
    failed_attempts: int = 0
    dead_lettered: int = 0
    lag_seconds: float = 0.0  # age of the oldest event not yet delivered or dead-lettered


def retry_delay(attempts: int, config: WebhookDeliveryConfig) -> float:
    """Seconds before the next try after `attempts` failed ones (1, 2, ...)."""
    return min(config.retry_initial * 2 ** min(attempts - 1, 40), config.retry_max_delay)


class WebhookDispatcher:
    def __init__(
        self,
        store: WebhookStore,
        hooks: list[WebhookConfig],
        config: WebhookDeliveryConfig,
        clock: Clock,
        poster: Poster | None = None,
    ) -> None:
        self.store = store
        self.hooks = hooks
        self.config = config
        self.clock = clock
        self.stats = DispatcherStats()
        self._poster = poster or Poster(config.concurrency)
        self._wake = asyncio.Event()
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self._last_prune: datetime | None = None
        # A hook whose every POST of a pass failed is left alone for a while (doubling like
        # an event's retries): during an outage, one probe per delay instead of one failed
        # attempt per event, so the CPU is there to catch up when it is back.
        self._failed_passes: dict[str, int] = {}
        self._paused_until: dict[str, datetime] = {}

    def wake(self) -> None:
        """New events were committed: look now rather than at the next poll."""
        self._wake.set()

    async def start(self) -> None:
        for hook in self.hooks:  # the cursor of a new hook starts at the newest event
            await self.store.materialize_webhook_deliveries(hook.key, hook.events, self.clock.now())
        self._tasks = [asyncio.create_task(self._run(), name="bounced-webhooks")]

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self._poster.close()

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                busy = await self.run_once()
            except Exception:  # the store failed: nothing is lost, try again at the next poll
                log.exception("webhook pass failed", extra=kv(event="webhook_pass_failed"))
                busy = False
            if busy:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=await self._idle_wait())

    async def _idle_wait(self) -> float:
        wait = self.config.poll_interval
        now = self.clock.now()
        for hook in self.hooks:
            due = await self.store.next_webhook_due(hook.key)
            paused = self._paused_until.get(hook.key)
            if due is not None and paused is not None:
                due = max(due, paused)
            if due is not None:
                wait = min(wait, max((due - now).total_seconds(), 0.0))
        return max(wait, 0.01)

    async def run_once(self) -> bool:
        """One pass over every hook; True when a hook had a full window (more may be due)."""
        busy = False
        for hook in self.hooks:
            now = self.clock.now()
            await self.store.materialize_webhook_deliveries(hook.key, hook.events, now)
            paused = self._paused_until.get(hook.key)
            if paused is not None and now < paused:
                continue
            window = self.config.concurrency * 4
            due = await self.store.due_webhook_deliveries(hook.key, now, window)
            if due:
                await self._deliver(hook, due)
                busy = busy or len(due) == window
        await self._refresh_lag()
        await self._prune()
        return busy

    async def drain(self, timeout: float = 30.0) -> None:
        """Run passes until nothing is due now (tests, `hooks replay` in a CLI process)."""
        async with asyncio.timeout(timeout):
            while True:
                await self.run_once()
                now = self.clock.now()
                active = [h for h in self.hooks if now >= self._paused_until.get(h.key, now)]
                if not any([await self.store.due_webhook_deliveries(h.key, now, 1) for h in active]):
                    return

    async def _deliver(self, hook: WebhookConfig, due: list[WebhookDelivery]) -> None:
        gate = asyncio.Semaphore(self.config.concurrency)

        async def one(delivery: WebhookDelivery) -> str | None:
            async with gate:
                return await self._post(hook, delivery)

        errors = await asyncio.gather(*(one(d) for d in due))
        now = self.clock.now()
        rows: list[tuple[int, WebhookState, int, datetime, datetime | None, str | None]] = []
        for delivery, error in zip(due, errors, strict=True):
            attempts = delivery.attempts + 1
            if error is None:
                rows.append((delivery.id, WebhookState.DELIVERED, attempts, now, now, None))
                self.stats.delivered += 1
                continue
            self.stats.failed_attempts += 1
            next_at = now + timedelta(seconds=retry_delay(attempts, self.config))
            if (next_at - delivery.event.at).total_seconds() > self.config.retry_for:
                rows.append((delivery.id, WebhookState.DEAD, attempts, now, now, error))
                self.stats.dead_lettered += 1
                log.error(
                    "webhook dead-lettered",
                    extra=kv(event="webhook_dead", hook=hook.key, event_id=delivery.event.id,
                             attempts=attempts, error=error),
                )  # fmt: skip
            else:
                rows.append((delivery.id, WebhookState.PENDING, attempts, next_at, None, error))
                log.warning(
                    "webhook attempt failed",
                    extra=kv(event="webhook_retry", hook=hook.key, event_id=delivery.event.id,
                             attempts=attempts, next_at=next_at.isoformat(), error=error),
                )  # fmt: skip
        await self.store.finish_webhook_deliveries(rows)
        if all(error is not None for error in errors):
            failed = self._failed_passes.get(hook.key, 0) + 1
            self._failed_passes[hook.key] = failed
            self._paused_until[hook.key] = now + timedelta(seconds=retry_delay(failed, self.config))
        else:
            self._failed_passes.pop(hook.key, None)
            self._paused_until.pop(hook.key, None)

    async def _post(self, hook: WebhookConfig, delivery: WebhookDelivery) -> str | None:
        """None when the receiver took it (2xx), else why not."""
        timestamp = int(self.clock.now().timestamp())
        return await self._poster.post(hook, delivery.event.id, event_body(delivery.event), timestamp)

    async def _refresh_lag(self) -> None:
        backlog = await self.store.webhook_backlog()
        oldest = backlog.oldest_at
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
