"""Soft-bounce thresholds ([[policy.soft_thresholds]]), as a decision. Pure.

`count` soft bounces of one address within `window` seconds, with no successful delivery
in between, suppress it with reason "softbounce-threshold". Only soft bounces after the
last successful delivery count (a delivery resets), and only those that may suppress:
signed, or unsigned while unsigned bounces suppress (`verp.unsigned_policy`). Greylisting counts only
where a rule names it: it is a delay, not a problem of the address.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bounced.config.policy import SoftThreshold
from bounced.model import BounceEvent, BounceKind, Reason, address_domain
from bounced.outbound.rules import domain_matches

__all__ = ["SOFTBOUNCE_THRESHOLD", "ThresholdHit", "soft_threshold_hit"]

SOFTBOUNCE_THRESHOLD = "softbounce-threshold"


@dataclass(frozen=True, slots=True)
class ThresholdHit:
    rule: str  # the rule's name, or "soft_thresholds[i]"
    event: BounceEvent  # the soft bounce that reached the count
    count: int


def _counts(rule: SoftThreshold, event: BounceEvent, unsigned_policy: str) -> bool:
    if event.kind is not BounceKind.SOFT or not (event.signed or unsigned_policy == "suppress"):
        return False
    if rule.reasons:
        if event.reason.value not in rule.reasons:
            return False
    elif event.reason is Reason.GREYLISTED:
        return False
    return not rule.domains or domain_matches(address_domain(event.recipient), rule.domains)


def soft_threshold_hit(
    events: Sequence[BounceEvent],
    last_delivered: datetime | None,
    rules: Sequence[SoftThreshold],
    unsigned_policy: str,
) -> ThresholdHit | None:
    """The first rule that `events` (one address's bounces) reach, else None."""
    for index, rule in enumerate(rules):
        counted = sorted(
            (e for e in events if _counts(rule, e, unsigned_policy)),
            key=lambda e: e.received_at,
        )
        if last_delivered is not None:
            counted = [e for e in counted if e.received_at > last_delivered]
        window = timedelta(seconds=rule.window)
        for first, last in zip(counted, counted[rule.count - 1 :], strict=False):
            if last.received_at - first.received_at <= window:
                return ThresholdHit(rule.name or f"soft_thresholds[{index}]", last, rule.count)
    return None
