"""`bounced policy simulate`: stored bounces re-classified under another config. Pure.

Each stored event's failure (status, reply code, diagnostic, action) goes through the
classifier again under both configs, and the suppression decision of `plan_events` is
applied (signed, or unsigned while `verp.unsigned_policy` is "suppress"; `classify.preset`). Events that no
classification made (complaints, auto-replies, successes, failures on our side) keep
their kind. The mass-failure guard and soft thresholds are not replayed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from bounced.apply.policy import SUPPRESSING_KINDS, hard_reasons_for
from bounced.classify.classify import classify_failure
from bounced.config import Config
from bounced.model import BounceEvent, BounceKind, Classification, Failure, MessageType

__all__ = ["Simulation", "reclassify", "simulate", "would_suppress"]

_CLASSIFIED = (BounceKind.HARD, BounceKind.SOFT, BounceKind.BLOCKED)


def reclassify(event: BounceEvent, config: Config) -> Classification:
    """`event` classified again from its stored failure under `config`."""
    if event.kind not in _CLASSIFIED:
        return Classification(event.kind, event.reason, event.retry_after, event.rule)
    failure = Failure(
        recipient=event.recipient,
        status=event.status,
        reply_code=event.reply_code,
        diagnostic=event.diagnostic,
        remote_mta=event.remote_mta,
    )
    if event.action is not None:
        failure = replace(failure, action=event.action)
    return classify_failure(failure, MessageType.DSN, config.classify)


def would_suppress(event: BounceEvent, classification: Classification, config: Config) -> bool:
    if classification.kind not in SUPPRESSING_KINDS:
        return False
    if not (event.signed or config.verp.unsigned_policy == "suppress"):
        return False
    hard_reasons = hard_reasons_for(config.classify.preset)
    return not (classification.kind is BounceKind.HARD and hard_reasons is not None
                and classification.reason not in hard_reasons)  # fmt: skip


@dataclass
class Simulation:
    events: int = 0
    # address -> (reason, rule) of the first event that suppresses it
    now: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    new: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    kinds_now: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, reason) -> events
    kinds_new: Counter[tuple[str, str]] = field(default_factory=Counter)
    changed: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (reason, kind now, kind new)

    def reasons_of(self, suppressions: dict[str, tuple[str, str | None]]) -> Counter[str]:
        return Counter(reason for reason, _ in suppressions.values())


def simulate(events: Iterable[BounceEvent], current: Config, proposed: Config) -> Simulation:
    """What `current` and `proposed` each decide for `events`."""
    sim = Simulation()
    for event in events:
        sim.events += 1
        before, after = reclassify(event, current), reclassify(event, proposed)
        sim.kinds_now[(before.kind.value, before.reason.value)] += 1
        sim.kinds_new[(after.kind.value, after.reason.value)] += 1
        if (before.kind, before.reason) != (after.kind, after.reason):
            sim.changed[(after.reason.value, before.kind.value, after.kind.value)] += 1
        reason_now = "complaint" if before.kind is BounceKind.COMPLAINT else before.reason.value
        reason_new = "complaint" if after.kind is BounceKind.COMPLAINT else after.reason.value
        if would_suppress(event, before, current):
            sim.now.setdefault(event.recipient, (reason_now, before.rule))
        if would_suppress(event, after, proposed):
            sim.new.setdefault(event.recipient, (reason_new, after.rule))
    return sim
