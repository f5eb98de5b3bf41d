"""The processor: applies spooled bounces in id order, never loses or loops on one.

Pending intake is taken in windows (`processing.batch_size` messages, bounded by bytes) and
each window goes through `bounced.apply.batch.apply_batch`: parse and classify (in worker
processes for big windows, `processing.workers`), attribute, policy, and one store
transaction that records them all and marks them applied; when that transaction fails the
window is recorded message by message. An unexpected exception is recorded on the intake
with its attempt count; after `max_attempts` the intake is marked
`failed` and left for a human (Mailman's shunt queue), so one poison message cannot block
the rest. A central store that cannot be reached (StoreUnavailable: several nodes on one
database server) counts no attempt: the pass backs off and tries again. Whatever was
accepted but not applied before a crash is pending at start and is simply processed first.
The listener wakes the processor after each spool; a slow safety poll covers anything else
(e.g. a second process spooling into the same database).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bounced.clock import Clock
from bounced.config import Config
from bounced.errors import StoreUnavailable
from bounced.logfmt import kv
from bounced.model import IntakeMessage, IntakeState
from bounced.store.base import ProcessorStore

if TYPE_CHECKING:  # imported late at run time, to keep start-up light
    from bounced.apply.attribution import Attributor
    from bounced.apply.workers import Analyser

__all__ = ["Processor", "ProcessorSettings"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ProcessorSettings:
    """How the processor retries and batches. None: the `[processing]` setting."""

    max_attempts: int = 3  # failed attempts before an intake is quarantined
    retry_delay: float = 1.0  # seconds before a failed intake is tried again
    safety_poll: float = 30.0  # seconds between passes when nobody wakes the processor
    batch_size: int | None = None
    batch_delay: float | None = None
    burst_hold: float | None = None
    unavailable_retry_max: float = 5.0  # longest back-off while the central store is unreachable


@dataclass(slots=True)
class _Arrivals:
    """Spools since the last pass began (loop times): the burst hold's whole state."""

    count: int = 0
    first: float = 0.0
    last: float = 0.0

    def note(self, now: float) -> None:
        if not self.count:
            self.first = now
        self.count += 1
        self.last = now

    def hold_until(self, batch_delay: float, burst_hold: float) -> float:
        """While more than one is waiting: until they pause for `batch_delay`, at most until
        the first has waited `burst_hold`. Else 0: no hold."""
        if self.count < 2:
            return 0.0
        return min(self.last + batch_delay, self.first + burst_hold)


class Processor:
    def __init__(
        self,
        store: ProcessorStore,
        config: Config,
        clock: Clock,
        attributor: Attributor | None = None,
        *,
        settings: ProcessorSettings = ProcessorSettings(),
        analyser: Analyser | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self.attributor = attributor
        processing = config.processing
        self.max_attempts = settings.max_attempts
        self.retry_delay = settings.retry_delay
        self.safety_poll = settings.safety_poll
        self.batch_size = settings.batch_size or processing.batch_size
        self.batch_delay = processing.batch_delay if settings.batch_delay is None else settings.batch_delay
        self.burst_hold = processing.burst_hold if settings.burst_hold is None else settings.burst_hold
        self.unavailable_retry_max = settings.unavailable_retry_max
        self._unavailable = 0  # passes in a row that found the central store unreachable
        if analyser is None:
            from bounced.apply.workers import Analyser

            analyser = Analyser(processing.workers, processing.pool_min_batch)
        self.analyser = analyser  # its processes start lazily
        self.applied = 0
        self.failed = 0
        from bounced.apply.enforce import PolicyAlerts  # late, like apply_batch

        self.policy_alerts = PolicyAlerts()  # guard trips etc., for metrics and webhooks
        self.on_applied: Callable[[], None] | None = None  # after each window recorded (webhooks wake)
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._stopping = False
        self._stop_requested = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._error: BaseException | None = None
        self._arrivals = _Arrivals()  # spools since the last pass began

    # --- control ---------------------------------------------------------------------

    def wake(self, intake_id: int | None = None) -> None:
        """Called by the listener right after a spool commits (before the 250 goes out),
        so `drained()` called after the client saw 250 waits for that message."""
        self._arrivals.note(asyncio.get_running_loop().time())
        self._idle.clear()
        self._wake.set()

    def update_config(self, config: Config) -> None:
        self.config = config  # picked up by the next intake applied

    async def start(self) -> None:
        if self._task is None:
            self._wake.set()  # crash recovery: whatever is pending goes first
            self._task = asyncio.create_task(self._run(), name="bounced-processor")

    async def stop(self, timeout: float = 30.0) -> None:
        """Finish the window being applied, then stop (the rest stays pending for next start);
        stops the analyser's worker processes."""
        self._stopping = True
        self._stop_requested.set()
        self._wake.set()
        try:
            if self._task is None:
                return
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=timeout)
            except TimeoutError:
                log.warning("processor did not stop in time; cancelling")
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        finally:
            await self.analyser.close()

    async def drained(self, timeout: float = 10.0) -> None:
        """Wait until no intake is pending (applied, unparseable or failed), e.g. in tests.
        Raises TimeoutError, or RuntimeError when the processor task died."""
        idle = asyncio.ensure_future(self._idle.wait())
        waiters: set[asyncio.Future[Any]] = {idle}
        if self._task is not None:
            waiters.add(self._task)
        try:
            done, _ = await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            idle.cancel()
        if self._error is not None:
            raise RuntimeError("processor crashed") from self._error
        if idle not in done:
            raise TimeoutError(f"intake not drained within {timeout}s")

    # --- work ------------------------------------------------------------------------

    async def _run(self) -> None:
        store_failures = 0
        settle_until = 0.0  # loop time before which the next pass does not start
        try:
            while not self._stopping:
                await self._wait_for_window(settle_until)
                self._wake.clear()
                self._arrivals = _Arrivals()  # those arriving during the pass count for the next one
                done_before = self.applied + self.failed
                try:
                    retry_pending = await self.run_once()
                    store_failures = 0
                    if self._unavailable:
                        log.info("event=central_store_back", extra=kv(failures=self._unavailable))
                        self._unavailable = 0
                except StoreUnavailable as exc:
                    await self._wait_for_store(exc)
                    continue
                except Exception:
                    # The store itself failed (disk full, locked too long): nothing is lost,
                    # the intake stays pending; back off (doubling, up to the safety poll).
                    store_failures += 1
                    log.exception("processing pass failed; retrying", extra=kv(failures=store_failures))
                    retry_pending = True
                if self._stopping:
                    break
                if not retry_pending and not self._wake.is_set():
                    self._idle.set()
                delay = self.retry_delay if retry_pending else self.safety_poll
                if store_failures:
                    delay = min(self.retry_delay * 2 ** (store_failures - 1), self.safety_poll)
                waited_from = asyncio.get_running_loop().time()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=delay)
                # After a pass that did work, the next one waits batch_delay from its end.
                did_work = self.applied + self.failed > done_before
                settle_until = waited_from + self.batch_delay if did_work else 0.0
        except BaseException as exc:
            if not isinstance(exc, asyncio.CancelledError):
                self._error = exc
                log.critical("processor crashed", exc_info=True)
            raise

    async def _wait_for_store(self, exc: StoreUnavailable) -> None:
        """The central store is unreachable: nothing is lost (the intake stays pending in the
        local spool, no attempt is counted), try again after a back-off that doubles up to
        `unavailable_retry_max`. Arrivals do not cut the wait short: each pass would
        analyse a window only to fail again."""
        self._unavailable += 1
        delay = min(self.retry_delay * 2 ** (self._unavailable - 1), self.unavailable_retry_max)
        log.warning(
            "event=central_store_unavailable",
            extra=kv(failures=self._unavailable, retry_in=round(delay, 2), error=str(exc)),
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop_requested.wait(), timeout=delay)

    async def _wait_for_window(self, settle_until: float) -> None:
        """When the next pass starts, decided in one place. After a pass that did work, not
        before `settle_until` (its end + `batch_delay`): a burst's next window fills (one
        transaction and fsync for many messages, big enough for the worker processes)
        instead of each message being chased. And while bounces keep arriving, the SMTP
        sessions keep the CPU: the pass waits until they pause for `batch_delay`, or until
        the first waiting one has waited `burst_hold` (a long flood is then applied
        alongside, at most that far behind). One message alone is applied at once."""
        loop = asyncio.get_running_loop()
        while not self._stopping:
            wake_at = settle_until
            if self.burst_hold > 0:
                wake_at = max(wake_at, self._arrivals.hold_until(self.batch_delay, self.burst_hold))
            now = loop.time()
            if now >= wake_at:
                return
            await asyncio.sleep(wake_at - now)

    async def run_once(self) -> bool:
        """Apply everything pending now, in id order. Returns True when some intake failed
        and is due for another attempt (burst mode: call until it returns False)."""
        after_id = 0
        retry_pending = False
        while not self._stopping:
            batch = await self.store.pending_intake(limit=self.batch_size, after_id=after_id)
            if not batch:
                break
            if not await self._apply_batch(batch):
                retry_pending = True
            after_id = batch[-1].id
        return retry_pending

    async def _apply_batch(self, batch: list[IntakeMessage]) -> bool:
        """Apply a window of intake; True when all of it left the pending state."""
        from bounced.apply.batch import apply_batch  # imported late to keep start-up light

        results = await apply_batch(
            self.store, batch, self.config, self.clock, self.attributor, self.analyser, self.policy_alerts
        )
        all_done = True
        unavailable: StoreUnavailable | None = None
        for intake, result in zip(batch, results, strict=True):
            if isinstance(result, StoreUnavailable):  # not the message's fault: no attempt
                unavailable = result
            elif isinstance(result, Exception):
                if not await self._record_failure(intake, result):
                    all_done = False
            else:
                self.applied += 1
        if self.on_applied is not None:
            self.on_applied()
        if unavailable is not None:
            raise unavailable
        return all_done

    async def _record_failure(self, intake: IntakeMessage, exc: Exception) -> bool:
        error = "".join(traceback.format_exception_only(exc)).strip()[:2000]
        attempts = await self.store.note_intake_attempt(intake.id, error)
        fields = kv(intake_id=intake.id, attempt=attempts, error=error)
        if attempts < self.max_attempts:
            log.warning("intake failed; will retry", exc_info=exc, extra=fields)
            return False
        self.failed += 1
        log.error("intake quarantined after repeated failures", exc_info=exc, extra=fields)
        await self.store.mark_intake(intake.id, IntakeState.FAILED, error=error, now=self.clock.now())
        return True
