"""Retention of raw bounce bytes: the daemon's periodic prune of the intake spool.

A busy MX takes about a million bounces (5 GB of raw bytes) a day; once a bounce is applied
its events, profile changes and the intake row's envelope and hash hold everything the
pipeline needs, so after `[storage] keep_raw_days` only the bytes go. Failed and unparseable
messages (kept for a human) and pending ones are never pruned. The freed pages are reused
by new bounces, so the database file stops growing (it does not shrink without VACUUM).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime, timedelta

from bounced.clock import Clock
from bounced.config.storage import StorageConfig
from bounced.errors import StoreError
from bounced.logfmt import kv
from bounced.store.base import IntakeStore

__all__ = ["PRUNE_BATCH", "RetentionTask", "prune_raw"]

log = logging.getLogger(__name__)

# Rows per transaction: each batch holds the write lock, so the listener's next group commit
# waits for it; 500 rows of 5 KB take about 10 ms (100 rows: 2 ms, 2000: 36 ms), and
# smaller batches cost more CPU per row.
PRUNE_BATCH = 500
# The first run waits this long (or one interval, if shorter) after start, leaving the
# write lock to the backlog a restart applies first.
FIRST_RUN_DELAY = 10.0


async def prune_raw(store: IntakeStore, older_than: datetime, now: datetime, batch: int = PRUNE_BATCH) -> int:
    """Prune every applied message received before `older_than`, `batch` rows per
    transaction; returns how many. Between batches other writers get the lock."""
    total = 0
    while True:
        pruned = await store.prune_intake_raw(older_than, batch, now)
        total += pruned
        if pruned < batch:
            return total
        await asyncio.sleep(0)  # let waiting spools take the write lock first


class RetentionTask:
    """Runs `prune_raw` every `prune_interval` seconds, cutting off at the injected clock's
    now minus `keep_raw_days`. A failed run is logged and retried at the next interval."""

    def __init__(self, store: IntakeStore, config: StorageConfig, clock: Clock) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="bounced-retention")

    async def stop(self) -> None:
        """Cancel the task; a batch in flight is rolled back by the store (nothing half done)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def update_config(self, config: StorageConfig) -> None:
        """Reload: new keep_raw_days / prune_interval run at once, then on the new interval."""
        changed = (config.keep_raw_days, config.prune_interval) != (
            self.config.keep_raw_days,
            self.config.prune_interval,
        )
        self.config = config
        if changed:
            self._wake.set()

    async def run_once(self) -> int:
        """One run: prune what is older than keep_raw_days (nothing when it is 0); logs one line."""
        config = self.config
        if config.keep_raw_days == 0:
            log.info("retention: keeping raw bytes forever", extra=kv(keep_raw_days=0, pruned=0))
            return 0
        now = self.clock.now()
        older_than = now - timedelta(days=config.keep_raw_days)
        started = time.perf_counter()
        pruned = await prune_raw(self.store, older_than, now)
        log.info(
            "retention: raw bytes pruned",
            extra=kv(
                pruned=pruned,
                older_than=older_than.isoformat(),
                keep_raw_days=config.keep_raw_days,
                seconds=f"{time.perf_counter() - started:.3f}",
            ),
        )
        return pruned

    async def _run(self) -> None:
        delay = min(FIRST_RUN_DELAY, self.config.prune_interval)
        while True:
            # Real time for the schedule (like the processor's polls); the clock only says
            # what "old" is, so tests move it to age rows and still get timely runs.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            self._wake.clear()
            try:
                await self.run_once()
            except Exception as exc:  # the store failed (locked, disk): try again next time
                log.error(
                    "retention run failed; retrying at the next interval",
                    extra=kv(error=str(exc)),
                    exc_info=not isinstance(exc, StoreError),  # a bug: keep its traceback
                )
            delay = self.config.prune_interval
