"""Why an address with a hard bounce is not on the suppression list: pure, for `profile show`."""

from __future__ import annotations

from collections.abc import Sequence

from bounced.config.sending import VerpConfig
from bounced.model import AuditEntry, BounceEvent, BounceKind, Profile, Reason

__all__ = ["why_not_suppressed"]


def why_not_suppressed(
    profile: Profile,
    events: Sequence[BounceEvent],
    audit: Sequence[AuditEntry],
    verp: VerpConfig,
    hard_reasons: frozenset[Reason] | None = None,
) -> str | None:
    """A sentence for an address with hard bounces and no suppression entry (None otherwise).
    `hard_reasons`: the reasons that suppress under `classify.preset` (None: every one)."""
    hard = [e for e in events if e.kind is BounceKind.HARD]
    if not profile.hard_bounce_count or not hard:
        return None
    if hard[-1].quarantine:
        return "held in quarantine by the mass-failure guard (bounced quarantine list|release|confirm)"
    if hard_reasons is not None and all(e.reason not in hard_reasons for e in hard):
        reasons = ", ".join(sorted({e.reason.value for e in hard}))
        return f'reason {reasons} does not suppress under classify.preset = "conservative"'
    removals = [a for a in audit if a.action == "suppression.remove"]
    if removals and removals[-1].at >= hard[-1].received_at:
        last = removals[-1]
        return f"removed by {last.actor} on {last.at:%Y-%m-%d} ({last.reason})"
    if all(not e.signed for e in hard):
        if verp.unsigned_policy == "record":
            setting = (
                'unsigned_bounces = "auto" and keys are configured'
                if verp.unsigned_bounces == "auto"
                else 'unsigned_bounces = "record"'
            )
            return f"bounce unsigned and [verp] requires signed bounces ({setting}); see docs/signing.md"
        return "bounce unsigned, and [verp] required signed bounces when it was applied"
    if removals:
        last = removals[-1]
        return f"removed by {last.actor} on {last.at:%Y-%m-%d} ({last.reason})"
    return "the signed hard bounce did not ask for suppression when it was applied"
