"""The bounce policy around one recording: the mass-failure guard before it (which hard
bounces to hold instead of suppressing), soft-bounce thresholds after it. The decisions
are pure (`guard.py`, `thresholds.py`); this asks the store and has it persist them.

Used by apply (bounces by mail) and the resend queue (the next hop's replies).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from bounced.apply.guard import GuardDecision, GuardGroup, all_groups, decide_guard, groups_of
from bounced.apply.thresholds import SOFTBOUNCE_THRESHOLD, ThresholdHit, soft_threshold_hit
from bounced.config import Config
from bounced.logfmt import kv
from bounced.model import BounceEvent, BounceKind
from bounced.store.base import ApplyStore

__all__ = [
    "GuardTrip",
    "HeldBatch",
    "PolicyAlerts",
    "confirm_mass_failures",
    "enforce_soft_thresholds",
    "evaluate_soft_thresholds",
    "hold_mass_failures",
]

log = logging.getLogger("bounced.policy")

_NO_DECISION = GuardDecision((), (), ())


@dataclass(frozen=True, slots=True)
class GuardTrip:
    """One alert of the mass-failure guard."""

    group: GuardGroup
    count: int  # hard bounces of the group within the window, this batch included
    held: int  # earlier suppressions of the group moved to the quarantine
    at: datetime


@dataclass
class PolicyAlerts:
    """Counters for the metrics, and `on_guard_tripped`: the hook for the webhook event
    (called once per trip, after the trip is committed)."""

    guard_trips: int = 0
    quarantined: int = 0
    softbounce_suppressions: int = 0
    on_guard_tripped: list[Callable[[GuardTrip], None]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class HeldBatch:
    events: list[BounceEvent]  # as given, quarantined ones with suppress=False
    decision: GuardDecision
    counts: dict[GuardGroup, int]  # recorded hard bounces per group within the window


async def hold_mass_failures(
    store: ApplyStore, events: Sequence[BounceEvent], config: Config, now: datetime
) -> HeldBatch:
    """Before recording: the guard's decision over `events` (one batch)."""
    guard = config.policy.guard
    groups = all_groups(events)

    if not guard.enabled or not groups:
        return HeldBatch(list(events), _NO_DECISION, {})
    signed_only = config.verp.unsigned_policy != "suppress"
    since = now - timedelta(seconds=guard.window)
    raw_counts, raw_active = await store.guard_state(groups, since, signed_only)
    counts = {GuardGroup(*g): n for g, n in raw_counts.items()}
    decision = decide_guard(events, counts, {GuardGroup(*g) for g in raw_active}, guard)
    held = set(decision.quarantined)
    out = [replace(e, suppress=False, quarantine=True) if i in held else e for i, e in enumerate(events)]
    return HeldBatch(out, decision, counts)


async def confirm_mass_failures(
    store: ApplyStore, held: HeldBatch, config: Config, now: datetime, alerts: PolicyAlerts
) -> None:
    """After recording: trips committed, active groups kept active. One alert per
    incident: a burst from one sending IP to one domain trips both of its groups, but the
    second covers the same bounces and is recorded without a second alert."""
    decision = held.decision
    if not decision.touched:
        return
    alerts.quarantined += len(decision.quarantined)
    since = now - timedelta(seconds=config.policy.guard.window)
    counted = [groups_of(e) if e.suppress or e.quarantine else () for e in held.events]
    alerted: set[int] = set()
    try:
        for group in decision.tripped:
            members = {i for i, groups in enumerate(counted) if group in groups}
            count = held.counts.get(group, 0) + len(members)
            alert = None if members <= alerted else {"count": count, "window": config.policy.guard.window}
            moved = await store.trip_guard(group, since, now, alert)  # its webhook event with it
            alerts.quarantined += moved
            if alert is None:
                log.info("guard group tripped with another", extra=kv(scope=group.scope, key=group.key))
                continue
            alerted |= members
            trip = GuardTrip(group, count, moved, now)
            alerts.guard_trips += 1
            log.warning(
                "mass-failure guard tripped",
                extra=kv(event="guard_tripped", scope=group.scope, key=group.key, text=group.text_key,
                         count=trip.count, window=config.policy.guard.window, held=moved),
            )  # fmt: skip
            for listener in alerts.on_guard_tripped:
                listener(trip)
        await store.touch_guard([g for g in decision.touched if g not in decision.tripped], now)
    except Exception:  # recorded already; an unrecorded trip trips again with the next bounce
        log.exception("guard trip not recorded", extra=kv(event="guard_error"))


async def enforce_soft_thresholds(
    store: ApplyStore,
    events: Iterable[BounceEvent],
    config: Config,
    now: datetime,
    alerts: PolicyAlerts | None = None,
) -> list[str]:
    """After recording: suppress the addresses of `events` (soft ones) that reach a
    [[policy.soft_thresholds]] rule; returns them."""
    if not config.policy.soft_thresholds:
        return []
    addresses = sorted({e.recipient for e in events if e.kind is BounceKind.SOFT})
    suppressed = []
    for address in addresses:
        hit = await _hit(store, address, config)
        if hit is not None and await _suppress(store, address, hit, now):
            suppressed.append(address)
    if alerts is not None:
        alerts.softbounce_suppressions += len(suppressed)
    return suppressed


async def evaluate_soft_thresholds(
    store: ApplyStore, config: Config, now: datetime, since: datetime | None = None, *, apply: bool = True
) -> list[tuple[str, ThresholdHit]]:
    """Retroactively: every address with soft bounces (since `since`) under today's rules;
    the ones that reach a rule (and, with `apply`, were newly suppressed)."""
    found = []
    for address in await store.soft_bounced_addresses(since):
        hit = await _hit(store, address, config)
        if hit is not None and (not apply or await _suppress(store, address, hit, now)):
            found.append((address, hit))
    return found


async def _hit(store: ApplyStore, address: str, config: Config) -> ThresholdHit | None:
    history = [e for e in await store.events_for(address) if e.kind is BounceKind.SOFT]
    last = await store.last_delivered_at(address)
    return soft_threshold_hit(history, last, config.policy.soft_thresholds, config.verp.unsigned_policy)


async def _suppress(store: ApplyStore, address: str, hit: ThresholdHit, now: datetime) -> bool:
    note = f"{hit.count} soft bounces without a delivery in between (rule {hit.rule})"
    if not await store.suppress_by_policy(address, SOFTBOUNCE_THRESHOLD, hit.event.id, now, note):
        return False
    fields = kv(event="softbounce_threshold", rcpt=address, rule=hit.rule, count=hit.count)
    log.info("suppressed", extra=fields)
    return True
