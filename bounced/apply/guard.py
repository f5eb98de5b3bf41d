"""The mass-failure guard, as a decision: which hard bounces of a batch go to quarantine.

A provider in trouble can answer `550 5.1.1 user unknown` for every address for a while;
suppressing each one would unsubscribe good recipients by the thousand. Hard bounces are
grouped by recipient domain (and, separately, by sending IP) and the report's normalised
text (`report.bounce_text`, so the addresses in the text do not split a group). When a
group reaches `threshold` hard bounces within `window` seconds it trips: its hard bounces
are quarantined (recorded, not suppressed) while it stays active, that is until `window`
passes without one. The bounces of the group that were suppressed earlier in the window,
before it tripped, are moved to the quarantine when it trips (store `trip_guard`, audited),
so a burst of N ends with none of the N suppressed. Pure: counts in, decisions out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from bounced.config.policy import GuardConfig
from bounced.model import BounceEvent, BounceKind, address_domain

__all__ = ["GuardDecision", "GuardGroup", "all_groups", "decide_guard", "groups_of"]


class GuardGroup(NamedTuple):
    scope: str  # "domain" (recipient domain) or "ip" (sending IP)
    key: str
    text_key: str

    def label(self) -> str:
        return f"{self.scope}={self.key} text={self.text_key!r}"


@dataclass(frozen=True, slots=True)
class GuardDecision:
    quarantined: tuple[int, ...]  # indexes of the events to quarantine instead of suppressing
    tripped: tuple[GuardGroup, ...]  # groups that trip with this batch (one alert each)
    touched: tuple[GuardGroup, ...]  # active groups (old or new) that saw hard bounces now


def groups_of(event: BounceEvent) -> tuple[GuardGroup, ...]:
    """The guard's groups of a hard bounce (none for other kinds)."""
    if event.kind is not BounceKind.HARD:
        return ()
    text = event.text_key
    if text is None:
        raise ValueError(f"bounce event for {event.recipient!r} has no text_key (set by plan_events)")
    groups = [GuardGroup("domain", address_domain(event.recipient), text)]
    if event.sending_ip:
        groups.append(GuardGroup("ip", event.sending_ip, text))
    return tuple(groups)


def all_groups(events: Iterable[BounceEvent]) -> set[GuardGroup]:
    """The groups of the events that would suppress (the only ones the guard counts)."""
    return {g for e in events if e.suppress for g in groups_of(e)}


def decide_guard(
    events: Sequence[BounceEvent],
    recent: Mapping[GuardGroup, int],
    active: Iterable[GuardGroup],
    config: GuardConfig,
) -> GuardDecision:
    """`recent`: hard bounces already recorded per group within the window (those that could
    suppress: signed, or any while `verp.unsigned_policy` is "suppress"); `active`: groups tripped
    earlier and still active. Only events that would suppress count, so forged unsigned
    bounces cannot trip the guard to stop genuine suppressions. A group that reaches the
    threshold with this batch trips, and all of its hard bounces in the batch are held."""
    if not config.enabled:
        return GuardDecision((), (), ())
    active_set = set(active)
    per_event = [groups_of(e) if e.suppress else () for e in events]
    in_batch = Counter(g for groups in per_event for g in groups)
    tripped = sorted(
        g for g, n in in_batch.items() if g not in active_set and recent.get(g, 0) + n >= config.threshold
    )
    holding = active_set | set(tripped)
    quarantined = tuple(i for i, groups in enumerate(per_event) if any(g in holding for g in groups))
    touched = tuple(sorted(g for g in in_batch if g in holding))
    return GuardDecision(quarantined, tuple(tripped), touched)
