"""Apply spooled messages: analyse -> attribute -> policy -> record.

`apply_batch` takes a window of intake messages: the pure analysis (parse, classify) runs
through an `Analyser` (worker processes for big batches), attribution (async, reads the
store) and policy run here, and everything is recorded in ONE store transaction. Content
never makes a message fail: one that is not mail at all is marked `unparseable`, one the
parser or classifier crashes on is marked `failed` (quarantined for a human, since a pure
step fails the same way every time). Other errors (the attributor, the store) are returned
per message: when the batch transaction fails, its messages are recorded one by one, so one
message that makes the store step fail cannot hold back the others. `apply_intake` is a
batch of one that raises its error.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from bounced.apply.analyse import Analysis, AnalysisOutcome, analyse_many, bounce_message_id, looks_like_mail
from bounced.apply.attribution import Attributor
from bounced.apply.enforce import (
    HeldBatch,
    PolicyAlerts,
    confirm_mass_failures,
    enforce_soft_thresholds,
    hold_mass_failures,
)
from bounced.apply.policy import hard_reasons_for, plan_events
from bounced.apply.workers import Analyser
from bounced.clock import Clock
from bounced.config import Config
from bounced.errors import StoreUnavailable
from bounced.logfmt import kv
from bounced.model import (
    Attribution,
    BounceEvent,
    IntakeMessage,
    IntakeState,
    MessageType,
)
from bounced.store.base import ApplyStore, IntakeRecording, RecordOutcome

__all__ = ["ApplyResult", "apply_batch", "apply_intake", "bounce_message_id", "looks_like_mail"]

log = logging.getLogger("bounced.apply")


@dataclass(frozen=True, slots=True)
class ApplyResult:
    intake_id: int
    state: IntakeState  # applied, unparseable or failed
    message_type: MessageType | None = None
    planned: tuple[BounceEvent, ...] = ()  # as planned (no ids)
    event_ids: tuple[int | None, ...] = ()  # per planned event: its new id, None: a duplicate
    suppressed: tuple[str, ...] = ()  # addresses newly put on the suppression list
    attribution: Attribution | None = None
    error: str | None = None

    # The events with their ids are built on demand: the daemon's process only counts
    # results, and a frozen 22-field event costs as much to copy as to plan.
    @property
    def events(self) -> tuple[BounceEvent, ...]:
        """As planned; `id` set for the newly written ones."""
        return tuple(
            e if i is None else e.with_id(i) for e, i in zip(self.planned, self.event_ids, strict=True)
        )

    @property
    def written(self) -> tuple[BounceEvent, ...]:
        return tuple(e.with_id(i) for e, i in zip(self.planned, self.event_ids, strict=True) if i is not None)

    @property
    def duplicates(self) -> int:
        """Events already recorded from an earlier copy of this bounce."""
        return self.event_ids.count(None)


async def apply_intake(
    store: ApplyStore,
    intake: IntakeMessage,
    config: Config,
    clock: Clock,
    attributor: Attributor | None = None,
) -> ApplyResult:
    """Process one spooled message and record the outcome in one transaction."""
    [result] = await apply_batch(store, [intake], config, clock, attributor)
    if isinstance(result, Exception):
        raise result
    return result


async def apply_batch(
    store: ApplyStore,
    intakes: Sequence[IntakeMessage],
    config: Config,
    clock: Clock,
    attributor: Attributor | None = None,
    analyser: Analyser | None = None,
    alerts: PolicyAlerts | None = None,
) -> list[ApplyResult | Exception]:
    """Apply `intakes` (recorded in one transaction when all goes well); per message, its
    result or the error that kept it pending (the caller counts the attempt). The
    mass-failure guard decides over the whole batch before it is recorded; soft-bounce
    thresholds are evaluated after (`enforce.py`)."""
    raws = [intake.raw for intake in intakes]
    if analyser is not None:
        analyses = await analyser.analyse_all(raws, config.classify)
    else:
        analyses = analyse_many(raws, config.classify)
    planned: list[tuple[IntakeMessage, IntakeRecording, Attribution | None]] = []
    results: list[ApplyResult | Exception | None] = []
    for intake, analysis in zip(intakes, analyses, strict=True):
        try:
            recording, attribution = await _plan(intake, analysis, config, attributor)
        except Exception as exc:  # the attributor (or policy) failed: this one stays pending
            results.append(exc)
            continue
        planned.append((intake, recording, attribution))
        results.append(None)
    alerts = alerts if alerts is not None else PolicyAlerts()
    now = clock.now()
    held: HeldBatch | None = None
    if planned:
        try:
            held = await _hold(store, planned, config, now)
        except Exception as exc:  # the guard could not read its counts: all stay pending
            return [exc for _ in intakes]
    outcomes = await _record(store, [recording for _, recording, _ in planned], clock)
    if held is not None:
        await confirm_mass_failures(store, held, config, now, alerts)
    await _after_record(store, planned, outcomes, config, now, alerts)
    done = iter(zip(planned, outcomes, strict=True))
    final: list[ApplyResult | Exception] = []
    for result in results:
        if result is not None:
            final.append(result)
            continue
        (intake, recording, attribution), outcome = next(done)
        final.append(outcome if isinstance(outcome, Exception) else _result(recording, outcome, attribution))
    for intake, analysis, result in zip(intakes, analyses, final, strict=True):
        if isinstance(result, ApplyResult):
            _log_outcome(intake, analysis, result)
    return final


async def _hold(
    store: ApplyStore,
    planned: list[tuple[IntakeMessage, IntakeRecording, Attribution | None]],
    config: Config,
    now: datetime,
) -> HeldBatch:
    """The guard over the batch's events; `planned` gets the held events in place."""
    held = await hold_mass_failures(store, [e for _, r, _ in planned for e in r.events], config, now)
    events = iter(held.events)
    for i, (intake, recording, attribution) in enumerate(planned):
        new = tuple(next(events) for _ in recording.events)
        planned[i] = (intake, replace(recording, events=new), attribution)
    return held


async def _after_record(
    store: ApplyStore,
    planned: Sequence[tuple[IntakeMessage, IntakeRecording, Attribution | None]],
    outcomes: Sequence[RecordOutcome | Exception],
    config: Config,
    now: datetime,
    alerts: PolicyAlerts,
) -> None:
    written = [
        event
        for (_, recording, _), outcome in zip(planned, outcomes, strict=True)
        if not isinstance(outcome, Exception)
        for event, event_id in zip(recording.events, outcome.event_ids, strict=False)
        if event_id is not None
    ]
    try:
        await enforce_soft_thresholds(store, written, config, now, alerts)
    except Exception:  # recorded already; `bounced policy soft-thresholds` re-evaluates
        log.exception("event=softbounce_threshold_error")


async def _plan(
    intake: IntakeMessage, analysis: Analysis, config: Config, attributor: Attributor | None
) -> tuple[IntakeRecording, Attribution | None]:
    if analysis.outcome is AnalysisOutcome.UNPARSEABLE:
        return IntakeRecording(intake.id, state=IntakeState.UNPARSEABLE, error=analysis.error), None
    if analysis.outcome is AnalysisOutcome.CRASHED or analysis.parsed is None:
        return IntakeRecording(intake.id, state=IntakeState.FAILED, error=analysis.error), None
    parsed, precomputed = analysis.parsed, analysis.precomputed
    if precomputed is None:  # `analyse` sets it with every parsed message
        raise ValueError(f"intake {intake.id}: parsed without precomputed policy values")
    attribution = await attributor.attribute(intake, parsed) if attributor is not None else None
    message_type = parsed.message_type if parsed.failures else MessageType.NONE
    events = plan_events(
        list(analysis.classified),
        parsed,
        attribution,
        config.verp.unsigned_policy,
        intake.received_at,
        intake.id,
        precomputed,
        hard_reasons_for(config.classify.preset),
    )
    recording = IntakeRecording(
        intake.id, tuple(events), message_type=message_type, bounce_id=analysis.bounce_id
    )
    return recording, attribution


async def _record(
    store: ApplyStore, recordings: Sequence[IntakeRecording], clock: Clock
) -> list[RecordOutcome | Exception]:
    """One transaction for all; if it fails, one each, so only the culprit fails."""
    if not recordings:
        return []
    try:
        return list(await store.record_batch(recordings, clock.now()))
    except StoreUnavailable as exc:  # one by one would fail the same way: all stay pending
        return [exc for _ in recordings]
    except Exception as exc:
        if len(recordings) == 1:
            return [exc]
        log.warning(  # then recording one by one
            "event=batch_failed", extra=kv(size=len(recordings), error=str(exc), then="one_by_one")
        )
    outcomes: list[RecordOutcome | Exception] = []
    for recording in recordings:
        try:
            [outcome] = await store.record_batch([recording], clock.now())
        except Exception as exc:
            outcomes.append(exc)
        else:
            outcomes.append(outcome)
    return outcomes


def _result(
    recording: IntakeRecording, outcome: RecordOutcome, attribution: Attribution | None
) -> ApplyResult:
    assert recording.intake_id is not None
    if recording.state is not IntakeState.APPLIED:
        return ApplyResult(intake_id=recording.intake_id, state=recording.state, error=recording.error)
    if len(outcome.event_ids) != len(recording.events):
        raise ValueError(f"{len(outcome.event_ids)} ids for {len(recording.events)} events")
    return ApplyResult(
        intake_id=recording.intake_id,
        state=IntakeState.APPLIED,
        message_type=recording.message_type,
        planned=recording.events,
        event_ids=outcome.event_ids,
        suppressed=outcome.suppressed,
        attribution=attribution,
    )


def _log_outcome(intake: IntakeMessage, analysis: Analysis, result: ApplyResult) -> None:
    if analysis.parsed is not None and analysis.parsed.truncated:
        # A parse cap cut this message: what was recorded is right, but there was more.
        log.warning(
            "event=parse_truncated",
            extra=kv(
                intake=intake.id,
                size=len(intake.raw),
                caps=",".join(analysis.parsed.truncated),
                failures=len(analysis.parsed.failures),
            ),
        )
    if result.state is IntakeState.UNPARSEABLE:
        fields = kv(intake=intake.id, size=len(intake.raw), error=result.error or "")
        log.warning("event=unparseable", extra=fields)
    elif result.state is IntakeState.FAILED:
        log.error(  # the worker's traceback as one escaped value: one line per event
            "event=quarantined",
            extra=kv(
                intake=intake.id,
                stage=analysis.stage,
                error=result.error or "",
                trace=(analysis.trace or "").rstrip(),
            ),
        )
    elif log.isEnabledFor(logging.INFO):  # the arguments cost more than the call
        _log_result(result)


def _log_result(result: ApplyResult) -> None:
    if not result.planned:
        log.info("event=none", extra=kv(intake=result.intake_id, type=result.message_type))
        return
    suppressed = set(result.suppressed)
    for event, event_id in zip(result.planned, result.event_ids, strict=True):
        fields = kv(
            kind=event.kind.value,
            reason=event.reason.value,
            recipient=event.recipient,
            status=event.status or "-",
            intake=result.intake_id,
            suppressed="yes" if event.recipient in suppressed and event_id is not None else "no",
            signed="yes" if event.signed else "no",
        )
        if event_id is None:
            fields["kv"]["duplicate"] = "yes"
        log.info("event=bounce", extra=fields)
