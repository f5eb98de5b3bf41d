"""The alarm clock of the resend queue (APScheduler 3.x `AsyncIOScheduler`).

The durable queue row is the job; APScheduler holds at most two jobs whatever the queue's
size: an interval "poll" (new soft bounces recorded by the intake side, leases that ran
out) and one "due" date job armed at the earliest due time, re-armed after every run and
whenever an earlier row is scheduled. Both only wake one worker task, so runs never
overlap. On start the worker runs at once: rows that fell due while the daemon was down
go out right after start.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bounced.clock import Clock
from bounced.outbound.queue import ResendQueue

__all__ = ["QueueScheduler"]

log = logging.getLogger(__name__)


class QueueScheduler:
    def __init__(self, queue: ResendQueue, poll_interval: float, clock: Clock) -> None:
        self.queue = queue
        self.clock = clock
        self.poll_interval = poll_interval
        self._scheduler: AsyncIOScheduler | None = None
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._armed_at: datetime | None = None
        self._stopping = False
        self.runs = 0
        self.idle = asyncio.Event()  # set after a run that found nothing more to do

    async def start(self) -> None:
        quiet = logging.getLogger("apscheduler")
        if quiet.level == logging.NOTSET:
            # Every wake would log "Running job ..." at INFO; keep its warnings and errors.
            quiet.setLevel(logging.WARNING)
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._scheduler.add_job(
            self.wake, "interval", seconds=self.poll_interval, id="poll", coalesce=True, max_instances=1
        )
        self._scheduler.start()
        self._worker = asyncio.create_task(self._work(), name="resend-worker")
        self.wake()

    def wake(self) -> None:
        self._wake.set()

    def arm(self, due: datetime | None) -> None:
        """Make sure the worker runs at `due` (wall clock); an earlier alarm stays."""
        if due is None or self._scheduler is None or self._stopping:
            return
        now = self.clock.now()
        if self._armed_at is not None and self._armed_at > now and self._armed_at <= due:
            return
        self._armed_at = max(due, now)
        # APScheduler fires on the wall clock; the delay comes from the injected clock, so a
        # clock that is offset (but runs at real speed) still wakes the worker on time.
        delay = max((due - now).total_seconds(), 0.001)
        run_at = datetime.now(UTC) + timedelta(seconds=delay)
        self._scheduler.add_job(
            self.wake, "date", run_date=run_at, id="due", replace_existing=True, misfire_grace_time=None
        )

    async def _work(self) -> None:
        while not self._stopping:
            await self._wake.wait()
            self._wake.clear()
            if self._stopping:
                break
            self.idle.clear()
            try:
                await self.queue.run_once()
                self.arm(await self.queue.store.next_due_at())
            except Exception:
                # A store or bug error must not kill the worker: the rows stay and the next
                # wake retries them (leases protect against double sends).
                log.exception("resend run failed")
            self.runs += 1
            if not self._wake.is_set():
                self.idle.set()

    async def run_until_idle(self, timeout: float = 10.0) -> None:
        """For tests and tools: wake the worker and wait until a run finds nothing more."""
        self.idle.clear()
        self.wake()
        await asyncio.wait_for(self.idle.wait(), timeout)

    async def stop(self) -> None:
        """Stop waking; let a running pass finish its in-flight attempts (it claims no more)."""
        self._stopping = True
        self.queue.stop_claiming()
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        self._wake.set()
        if self._worker is not None:
            await self._worker
            self._worker = None
