"""Applying quarantined intake again (`bounced intake retry`), after an upgrade or an override.

A failed or unparseable message goes through the daemon's own path (`apply_batch`: parse,
classify, attribute, policy, one transaction) with the config given. Idempotent: an event
already recorded for this bounce (same bounce identity, original, recipient and status) is
a duplicate and is skipped by the store, so a message retried twice, or a copy of a bounce
that was applied before, adds nothing; the message ends applied either way.
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from dataclasses import dataclass

from bounced.apply.attribution import Attributor
from bounced.apply.batch import ApplyResult, apply_batch
from bounced.clock import Clock
from bounced.config import Config
from bounced.model import IntakeMessage, IntakeState
from bounced.store.base import ProcessorStore

__all__ = ["RETRYABLE", "RetryOutcome", "retry_attributor", "retry_intake"]

RETRYABLE = (IntakeState.FAILED, IntakeState.UNPARSEABLE)


@dataclass(frozen=True, slots=True)
class RetryOutcome:
    intake_id: int
    state: IntakeState  # after the retry: applied, or still failed / unparseable
    new_events: int = 0
    duplicate_events: int = 0  # recorded before (the retry added nothing for them)
    error: str | None = None


def retry_attributor(config: Config, store: ProcessorStore) -> Attributor:
    """The daemon's attributor: signed return paths, delivery-bound or platform-signed."""
    from bounced.apply.attribution import ReturnPathAttributor

    return ReturnPathAttributor(store, lambda: config)


async def retry_intake(
    store: ProcessorStore,
    intakes: Sequence[IntakeMessage],
    config: Config,
    clock: Clock,
    attributor: Attributor | None = None,
) -> list[RetryOutcome]:
    """Apply `intakes` (failed or unparseable, raw bytes kept) once more; per message what
    became of it. A message that fails again keeps its state, with the new error noted."""
    for intake in intakes:
        if intake.state not in RETRYABLE:
            raise ValueError(f"intake {intake.id} is {intake.state.value}, not failed or unparseable")
        if intake.raw_pruned_at is not None:
            raise ValueError(f"intake {intake.id}: raw bytes pruned, nothing to parse")
    results = await apply_batch(store, intakes, config, clock, attributor)
    outcomes = []
    for intake, result in zip(intakes, results, strict=True):
        if isinstance(result, ApplyResult):
            outcomes.append(_outcome(result))
            continue
        error = "".join(traceback.format_exception_only(result)).strip()[:2000]
        await store.note_intake_attempt(intake.id, error)
        outcomes.append(RetryOutcome(intake.id, intake.state, error=error))
    return outcomes


def _outcome(result: ApplyResult) -> RetryOutcome:
    new = sum(1 for event_id in result.event_ids if event_id is not None)
    return RetryOutcome(
        result.intake_id,
        result.state,
        new_events=new,
        duplicate_events=len(result.event_ids) - new,
        error=result.error,
    )
