"""The resend queue: decisions on soft bounces, and delivery attempts of due rows.

Two halves, both driven by `run_once()` (a burst: it drains what is due and returns, so
tests need no sleeps; the scheduler only decides when to call it):

- `consume_events()`: soft bounce events about our deliveries (`resend_state='pending'`,
  written by the store when a bounce is recorded) become one queue row each, or a
  non-delivery when the rules say give up; the event's state changes in the same
  transaction. A delay notice never schedules; a second bounce about an attempt that is
  already rescheduled is a duplicate.
- `run_due()`: claims due rows under a lease, checks the suppression list again, sends
  through the relay, and turns the next hop's refusals into bounce events through the
  same classifier and apply policy as bounces received by mail (`source="smtp"`).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import OrderedDict
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bounced.apply.enforce import (
    PolicyAlerts,
    confirm_mass_failures,
    enforce_soft_thresholds,
    hold_mass_failures,
)
from bounced.apply.policy import hard_reasons_for, plan_events, precompute
from bounced.classify.classify import classify_failure
from bounced.clock import Clock
from bounced.config import Config
from bounced.logfmt import kv
from bounced.model import (
    Action,
    Attribution,
    BounceEvent,
    BounceKind,
    Classification,
    ClassifiedFailure,
    DeliveryState,
    MessageType,
    OriginalMessage,
    ParsedMessage,
    Reason,
)
from bounced.outbound.rules import GiveUp, next_attempt
from bounced.outbound.sender import Envelope, RelaySender, SendOutcome
from bounced.store.base import OutboundAttempt, SenderStore
from bounced.verp import make_return_path

__all__ = ["QueueRun", "ResendQueue", "bounce_text"]

log = logging.getLogger(__name__)

_WAITING = (DeliveryState.SCHEDULED, DeliveryState.QUEUED)  # a row is already pending
_RAW_CACHE_BYTES = 64 * 1024 * 1024
_FINISHED = (DeliveryState.UNDELIVERED, DeliveryState.HARD_BOUNCED, DeliveryState.SUPPRESSED)


@dataclass
class QueueRun:
    """What one `run_once` did."""

    scheduled: int = 0
    gave_up: int = 0
    ignored: int = 0
    attempted: int = 0
    delivered: int = 0
    bounced: int = 0
    cancelled: int = 0


def bounce_text(event: BounceEvent) -> str:
    """The text a non-delivery or the queue listing shows for a bounce."""
    if event.diagnostic:
        return event.diagnostic
    return " ".join(str(p) for p in (event.reply_code, event.status, event.reason.value) if p)


class _Finisher:
    """Closes attempts in shared transactions: callers that finish while a write is in
    flight are written together by the next one (one commit, two statements)."""

    def __init__(self, store: SenderStore) -> None:
        self.store = store
        self._rows: list[tuple[int, int, DeliveryState, datetime, str | None]] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._task: asyncio.Task[None] | None = None

    async def finish(
        self, job_id: int, delivery_id: int, state: DeliveryState, at: datetime, text: str | None = None
    ) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._rows.append((job_id, delivery_id, state, at, text))
        self._waiters.append(future)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush())
        await future  # returns once committed: only then is the attempt closed

    async def _flush(self) -> None:
        while self._rows:
            rows, waiters = self._rows, self._waiters
            self._rows, self._waiters = [], []
            try:
                await self.store.finish_attempts(rows)
            except Exception as exc:
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_exception(exc)
            else:
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(None)


class ResendQueue:
    def __init__(
        self,
        store: SenderStore,
        config: Config,
        clock: Clock,
        sender: RelaySender,
        rng: random.Random | None = None,
        on_scheduled: Callable[[datetime], None] | None = None,
        alerts: PolicyAlerts | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self.sender = sender
        self.rng = rng or random.Random()
        self.on_scheduled = on_scheduled
        self.alerts = alerts if alerts is not None else PolicyAlerts()
        self._hard_refusals = asyncio.Lock()
        self._raw_cache: OrderedDict[int, bytes] = OrderedDict()
        self._raw_cached = 0
        self._finisher = _Finisher(store)
        self._finish = self._finisher.finish
        self._stopping = False

    def update_config(self, config: Config) -> None:
        self.config = config

    def stop_claiming(self) -> None:
        self._stopping = True

    async def run_once(self) -> QueueRun:
        """Decide on pending soft bounces, then attempt everything due, until nothing is."""
        run = QueueRun()
        await self.consume_events(run)
        await self.run_due(run)
        await self.consume_events(run)
        return run

    # --- soft bounce -> schedule or give up ------------------------------------------

    async def consume_events(self, run: QueueRun | None = None) -> QueueRun:
        run = run or QueueRun()
        while True:
            events = await self.store.pending_resend_events(limit=500)
            decided = 0
            for event in events:
                if await self.decide(event, run):
                    decided += 1
            if len(events) < 500 or decided == 0:
                return run

    async def decide(self, event: BounceEvent, run: QueueRun) -> bool:
        """Schedule, give up or ignore one soft bounce; False when it must wait (an attempt
        of its delivery is in flight: the bounce may be about it)."""
        delivery = await self.store.get_delivery(event.delivery_id) if event.delivery_id else None
        if delivery is None or event.action is Action.DELAYED or delivery.state in _FINISHED:
            if event.id is not None:
                await self.store.mark_resend_event(event.id, "ignored")
            run.ignored += 1
            return True
        if delivery.state is DeliveryState.SENT:
            return False
        if delivery.state in _WAITING:
            if event.id is not None:
                await self.store.mark_resend_event(event.id, "duplicate")
            run.ignored += 1
            return True
        now = self.clock.now()
        text = bounce_text(event)
        decision = next_attempt(delivery, event, self.config.resend, now, self.rng)
        if isinstance(decision, GiveUp):
            await self.store.give_up_delivery(delivery.id, now, text, event.id)
            run.gave_up += 1
            log.info(
                "non-delivery",
                extra=kv(delivery=delivery.id, rcpt=delivery.recipient, attempts=delivery.attempts,
                         why=decision.why, rule=decision.rule),
            )  # fmt: skip
            return True
        if await self.store.schedule_resend(
            delivery.id, delivery.attempts + 1, decision, now, text, event.id
        ):
            run.scheduled += 1
            log.info(
                "resend scheduled",
                extra=kv(delivery=delivery.id, rcpt=delivery.recipient, attempt=delivery.attempts + 1,
                         due=decision.isoformat()),
            )  # fmt: skip
            if self.on_scheduled is not None:
                self.on_scheduled(decision)
        else:
            run.ignored += 1
        return True

    # --- due rows -> delivery attempts -----------------------------------------------

    async def run_due(self, run: QueueRun | None = None) -> QueueRun:
        """Claim and attempt due rows with bounded concurrency until none is due."""
        run = run or QueueRun()
        cfg = self.config.resend
        limiter = asyncio.Semaphore(cfg.concurrency)
        in_flight: set[asyncio.Task[None]] = set()

        async def attempt(item: OutboundAttempt, suppressed: bool) -> None:
            await self._attempt(item, run, suppressed, limiter)

        first_due = await self.store.next_due_at()  # a read: idle polls take no write lock
        if first_due is None or first_due > self.clock.now():
            return run
        try:
            while True:
                room = cfg.batch_size - len(in_flight)
                claimed: list[OutboundAttempt] = []
                if room >= cfg.batch_size // 2 and not self._stopping:
                    now = self.clock.now()
                    claimed = await self.store.claim_attempts(now, now + timedelta(seconds=cfg.lease), room)
                # One suppression lookup per claimed batch, just before its attempts start.
                suppressed = (
                    await self.store.suppressed_among(i.recipient for i in claimed) if claimed else set()
                )
                for item in claimed:
                    task = asyncio.create_task(attempt(item, item.recipient in suppressed))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                if not in_flight:
                    return run
                if not claimed:
                    await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                else:
                    await asyncio.sleep(0)
        finally:
            if in_flight:  # let started attempts finish and record their outcome
                await asyncio.gather(*in_flight, return_exceptions=True)

    async def _raw(self, outbound_id: int) -> bytes | None:
        """The message's bytes, cached by size: a mailing to many recipients is read once."""
        raw = self._raw_cache.get(outbound_id)
        if raw is None:
            message = await self.store.get_outbound(outbound_id)
            if message is None:
                return None
            raw = message.raw
            self._raw_cache[outbound_id] = raw
            self._raw_cached += len(raw)
            while self._raw_cached > _RAW_CACHE_BYTES and len(self._raw_cache) > 1:
                _, dropped = self._raw_cache.popitem(last=False)
                self._raw_cached -= len(dropped)
        return raw

    async def _attempt(
        self, item: OutboundAttempt, run: QueueRun, suppressed: bool, limiter: asyncio.Semaphore
    ) -> None:
        try:
            await self._attempt_once(item, run, suppressed, limiter)
        except Exception:
            # The row stays 'running' and is taken over when its lease expires.
            log.exception("attempt failed", extra=kv(job=item.job_id, delivery=item.delivery_id))

    async def _attempt_once(
        self, item: OutboundAttempt, run: QueueRun, suppressed: bool, limiter: asyncio.Semaphore
    ) -> None:
        run.attempted += 1
        if suppressed:
            await self._finish(item.job_id, item.delivery_id, DeliveryState.SUPPRESSED, self.clock.now())
            run.cancelled += 1
            log.info(
                "attempt cancelled: suppressed", extra=kv(delivery=item.delivery_id, rcpt=item.recipient)
            )
            return
        raw = await self._raw(item.outbound_id)
        if raw is None:  # cannot happen through the store's API; never send an empty message
            now = self.clock.now()
            await self._finish(item.job_id, item.delivery_id, DeliveryState.UNDELIVERED, now)
            await self.store.give_up_delivery(
                item.delivery_id, now, "outbound message missing from the store"
            )
            log.error(
                "outbound message missing", extra=kv(delivery=item.delivery_id, message=item.outbound_id)
            )
            return
        return_path = make_return_path(item.delivery_id, item.recipient, self.config.verp)
        # Only the send holds a slot: recording the outcome waits for a (shared) commit, and
        # the next send need not wait for that.
        async with limiter:
            outcome = await self.sender.send(Envelope(return_path, item.recipient, raw, item.sending_ip))
        now = self.clock.now()
        if outcome.accepted:
            await self._finish(item.job_id, item.delivery_id, DeliveryState.DELIVERED, now)
            run.delivered += 1
            log.debug("delivered", extra=kv(delivery=item.delivery_id, attempt=item.attempt))
            return
        run.bounced += 1
        await self._record_refusal(item, outcome, now, run)

    def _classify(self, outcome: SendOutcome, item: OutboundAttempt) -> ClassifiedFailure:
        failure = outcome.as_failure(item.recipient)
        if outcome.network_error:
            # Our relay down, timing out, or refusing our AUTH/TLS: nothing the recipient did.
            failure = replace(failure, diagnostic=f"our relay unreachable: {failure.diagnostic}")
            return ClassifiedFailure(
                failure,
                Classification(BounceKind.OUR_SIDE, Reason.NETWORKERROR, None, "smtp:relay-unreachable"),
            )
        if outcome.stage == "mail":
            # Refused at MAIL FROM, before any recipient was named: about us, never them.
            failure = replace(failure, diagnostic=f"our relay refused MAIL FROM: {failure.diagnostic}")
            return ClassifiedFailure(
                failure, Classification(BounceKind.OUR_SIDE, Reason.REJECTED, None, "smtp:mail-stage")
            )
        return ClassifiedFailure(failure, classify_failure(failure, MessageType.DSN, self.config.classify))

    async def _record_refusal(
        self, item: OutboundAttempt, outcome: SendOutcome, now: datetime, run: QueueRun
    ) -> None:
        """The next hop said no: record it as a bounce (signed: we know what we sent)."""
        classified = self._classify(outcome, item)
        attribution = Attribution(
            recipient=item.recipient,
            delivery_id=item.delivery_id,
            mailing_id=item.mailing_id,
            from_domain=item.from_domain,
            sending_ip=item.sending_ip,
            message_id=item.message_id,
            signed=True,
        )
        parsed = ParsedMessage(
            MessageType.DSN,
            failures=(classified.failure,),
            original=OriginalMessage(message_id=item.message_id, mailing_id=item.mailing_id),
        )
        events = plan_events(
            [classified], parsed, attribution, self.config.verp.unsigned_policy, now, None,
            precompute([classified], parsed), hard_reasons_for(self.config.classify.preset),
        )  # fmt: skip
        events = [replace(e, source="smtp") for e in events]
        # Hard refusals are recorded one at a time: the guard's count must include the one
        # recorded just before (attempts run concurrently).
        async with self._hard_refusals if events[0].kind is BounceKind.HARD else nullcontext():
            held = await hold_mass_failures(self.store, events, self.config, now)
            events = held.events
            recorded = await self.store.record_events_outcome(None, events, now)
            await confirm_mass_failures(self.store, held, self.config, now, self.alerts)
        if recorded.event_ids and recorded.event_ids[0] is not None:
            await enforce_soft_thresholds(
                self.store, [events[0].with_id(recorded.event_ids[0])], self.config, now, self.alerts
            )
        event = events[0]
        event_id = recorded.event_ids[0] if recorded.event_ids else None
        text = bounce_text(event)
        kind = classified.kind
        log.info(
            "attempt refused",
            extra=kv(delivery=item.delivery_id, attempt=item.attempt, kind=kind.value,
                     reason=classified.reason.value, code=outcome.reply_code or "", text=text),
        )  # fmt: skip
        if kind is BounceKind.HARD:
            await self._finish(item.job_id, item.delivery_id, DeliveryState.HARD_BOUNCED, now, text)
        elif kind in (BounceKind.SOFT, BounceKind.OUR_SIDE):
            await self._finish(item.job_id, item.delivery_id, DeliveryState.SOFT_BOUNCED, now, text)
            # Decide now rather than at the next scan; a duplicate-skipped event (same status
            # as an earlier attempt) has no row to pick up, so it is decided from memory.
            await self.decide(event if event_id is None else event.with_id(event_id), run)
        else:  # blocked (a 5xx about us) and anything else final: not resent
            await self._finish(item.job_id, item.delivery_id, DeliveryState.SOFT_BOUNCED, now, text)
            await self.store.give_up_delivery(item.delivery_id, now, text, None)
            run.gave_up += 1
