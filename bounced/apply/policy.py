"""What each classified failure means for the store: pure, no I/O.

- hard: an event; suppress when signed (valid VERP token) or unsigned while
  `verp.unsigned_policy` is "suppress" (the default "auto" without keys).
- complaint: the same, suppression reason "complaint".
- soft: an event only (resend seam: the store marks it pending when it has a delivery).
- blocked: an event only; a 5xx about the sender never suppresses the recipient.
- autoreply / delivered / none: recorded, nothing else.

With a signed attribution the token's recipient is the one that counts: the failure naming it
(or, when none does, the first one) is attributed to it; failures about other addresses are
recorded but never suppress. Without one, the bounce's own recipient is used, mailing id comes
from the returned message's X-Mailing-ID and from-domain from its From header.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from typing import Literal

from bounced.model import (
    Attribution,
    BounceEvent,
    BounceKind,
    ClassifiedFailure,
    ParsedMessage,
    Reason,
    address_domain,
    normalise_address,
)
from bounced.pickling import pickled_by_constructor
from bounced.report.bounce_text import normalise_bounce_text

__all__ = [
    "SISIMAI_HARD_REASONS",
    "SUPPRESSING_KINDS",
    "Precomputed",
    "UnsignedPolicy",
    "counted_index",
    "hard_reasons_for",
    "plan_events",
    "precompute",
]

UnsignedPolicy = Literal["record", "suppress"]
SUPPRESSING_KINDS = frozenset({BounceKind.HARD, BounceKind.COMPLAINT})
# What Sisimai calls a hard bounce (Sisimai::SMTP::Error soft_or_hard): the address itself
# is gone. `classify.preset = "conservative"` lets only these suppress.
SISIMAI_HARD_REASONS = frozenset({Reason.USERUNKNOWN, Reason.HOSTUNKNOWN, Reason.HASMOVED, Reason.NOTACCEPT})


def hard_reasons_for(preset: str) -> frozenset[Reason] | None:
    """The reasons a hard bounce may suppress under `classify.preset`; None: every one."""
    return SISIMAI_HARD_REASONS if preset == "conservative" else None


def counted_index(classified: Sequence[ClassifiedFailure], token_recipient: str) -> int | None:
    """Which failure a signed bounce is about: the one naming the token's recipient, else the
    first one (a forwarded address reports the final mailbox, the token knows ours)."""
    if not classified:
        return None
    wanted = normalise_address(token_recipient)
    for index, item in enumerate(classified):
        if normalise_address(item.failure.recipient) == wanted:
            return index
    return 0


def _from_domain(from_header: str | None) -> str | None:
    """The domain of a From value, bare ("a@b") or with a display name ("A <a@b>")."""
    if not from_header:
        return None
    address = parseaddr(from_header)[1] or from_header
    return address_domain(normalise_address(address)) if "@" in address else None


@pickled_by_constructor
@dataclass(frozen=True, slots=True)
class Precomputed:
    """What `plan_events` derives from the message alone (not from the attribution, which
    needs the store): computed with the analysis, in a worker process, so the daemon's
    process does not normalise texts or parse From headers."""

    text_keys: tuple[str, ...]  # per classified failure: the report's key (normalised text)
    from_domain: str | None  # of the returned original's From


def precompute(classified: Sequence[ClassifiedFailure], parsed: ParsedMessage) -> Precomputed:
    return Precomputed(
        tuple(normalise_bounce_text(c.failure.diagnostic, c.failure.reply_code) for c in classified),
        _from_domain(parsed.original.from_address),
    )


def plan_events(
    classified: list[ClassifiedFailure],
    parsed: ParsedMessage,
    attribution: Attribution | None,
    unsigned_policy: str,
    received_at: datetime,
    intake_id: int | None,
    precomputed: Precomputed,
    hard_reasons: frozenset[Reason] | None = None,
) -> list[BounceEvent]:
    """One BounceEvent per classified failure, with `suppress` decided and its report text
    key set. `precomputed`: `precompute(classified, parsed)`, done where the failures were
    classified (a worker process for received bounces, the sender for the next hop's
    replies). `hard_reasons`: `hard_reasons_for(preset)`; a hard bounce for another reason
    is recorded and counted but suppresses nothing."""
    if unsigned_policy not in ("record", "suppress"):
        raise ValueError(f"verp.unsigned_bounces: expected 'record' or 'suppress', got {unsigned_policy!r}")
    if len(precomputed.text_keys) != len(classified):
        raise ValueError(f"{len(precomputed.text_keys)} text keys for {len(classified)} failures")
    original = parsed.original
    own_mailing_id = original.mailing_id
    own_from_domain, text_keys = precomputed.from_domain, precomputed.text_keys
    signed = attribution is not None and attribution.signed
    counted = counted_index(classified, attribution.recipient) if attribution is not None and signed else None

    events: list[BounceEvent] = []
    for index, item in enumerate(classified):
        failure = item.failure
        recipient = normalise_address(failure.recipient)
        mailing_id, from_domain, message_id = own_mailing_id, own_from_domain, original.message_id
        sending_ip: str | None = None
        delivery_id: int | None = None
        is_signed = False
        if attribution is not None:
            # Metadata from our own delivery record is better than the bounce's copy of it.
            mailing_id = attribution.mailing_id or mailing_id
            from_domain = attribution.from_domain or from_domain
            message_id = attribution.message_id or message_id
            sending_ip = attribution.sending_ip
            if index == counted:
                recipient = normalise_address(attribution.recipient)
                delivery_id = attribution.delivery_id
                is_signed = True
            elif not signed and recipient == normalise_address(attribution.recipient):
                delivery_id = attribution.delivery_id
        if item.kind in SUPPRESSING_KINDS:
            # A redacted recipient is a placeholder: only a VERP token says whose complaint it is.
            unsigned_ok = unsigned_policy == "suppress" and not failure.recipient_redacted
            suppress = is_signed or (not signed and unsigned_ok)
            if item.kind is BounceKind.HARD and hard_reasons is not None and item.reason not in hard_reasons:
                suppress = False
        else:
            suppress = False
        events.append(
            BounceEvent(
                recipient=recipient,
                kind=item.kind,
                reason=item.reason,
                received_at=received_at,
                action=failure.action,
                status=failure.status,
                reply_code=failure.reply_code,
                diagnostic=failure.diagnostic,
                remote_mta=failure.remote_mta,
                retry_after=item.classification.retry_after,
                mailing_id=mailing_id,
                from_domain=from_domain,
                sending_ip=sending_ip,
                message_id=message_id,
                intake_id=intake_id,
                delivery_id=delivery_id,
                signed=is_signed,
                source="mail",
                suppress=suppress,
                rule=item.classification.rule,
                text_key=text_keys[index],
            )
        )
    return events
