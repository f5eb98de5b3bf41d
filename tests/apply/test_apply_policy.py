"""plan_events: the pure policy from classified failures to events with `suppress` decided."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bounced.apply.policy import plan_events as plan_with
from bounced.apply.policy import precompute
from bounced.model import (
    Attribution,
    BounceEvent,
    BounceKind,
    Classification,
    ClassifiedFailure,
    Failure,
    MessageType,
    OriginalMessage,
    ParsedMessage,
    Reason,
)

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def plan_events(
    classified: list[ClassifiedFailure],
    parsed: ParsedMessage,
    attribution: Attribution | None,
    policy: str,
    received_at: datetime,
    intake_id: int | None,
) -> list[BounceEvent]:
    """Policy with the values a worker precomputes (as `analyse` does)."""
    return plan_with(
        classified, parsed, attribution, policy, received_at, intake_id, precompute(classified, parsed)
    )


ORIGINAL = OriginalMessage(
    message_id="<m1@news.sender.test>", from_address="News <news@Sender.TEST>", mailing_id="spring-sale"
)


def _cf(
    recipient: str, kind: BounceKind, reason: Reason, status: str = "5.1.1", **kw: object
) -> ClassifiedFailure:
    failure = Failure(recipient=recipient, status=status, diagnostic=f"{status} something", **kw)  # type: ignore[arg-type]
    return ClassifiedFailure(failure, Classification(kind, reason, retry_after=kw.get("retry") and 60))  # type: ignore[arg-type]


def _parsed(*items: ClassifiedFailure, message_type: MessageType = MessageType.DSN) -> ParsedMessage:
    return ParsedMessage(
        message_type=message_type, failures=tuple(i.failure for i in items), original=ORIGINAL
    )


SIGNED = Attribution(
    recipient="ann@example.org",
    delivery_id=17,
    mailing_id="mailing-from-token",
    from_domain="token.test",
    sending_ip="192.0.2.5",
    message_id="<our-id@token.test>",
    signed=True,
)


@pytest.mark.parametrize(
    ("kind", "reason", "policy", "suppress"),
    [
        (BounceKind.HARD, Reason.USERUNKNOWN, "record", False),
        (BounceKind.HARD, Reason.USERUNKNOWN, "suppress", True),
        (BounceKind.COMPLAINT, Reason.FEEDBACK, "record", False),
        (BounceKind.COMPLAINT, Reason.FEEDBACK, "suppress", True),
        (BounceKind.SOFT, Reason.MAILBOXFULL, "suppress", False),
        (BounceKind.BLOCKED, Reason.BADREPUTATION, "suppress", False),
        (BounceKind.AUTOREPLY, Reason.VACATION, "suppress", False),
        (BounceKind.DELIVERED, Reason.DELIVERED, "suppress", False),
    ],
)
def test_unsigned_bounces_follow_the_policy(
    kind: BounceKind, reason: Reason, policy: str, suppress: bool
) -> None:
    item = _cf("Bob@Example.ORG", kind, reason)
    [event] = plan_events([item], _parsed(item), None, policy, NOW, 9)
    assert event.suppress is suppress
    assert event.recipient == "Bob@example.org"
    assert (event.kind, event.reason, event.status) == (kind, reason, "5.1.1")
    assert (event.mailing_id, event.from_domain, event.message_id) == (
        "spring-sale",
        "sender.test",
        ORIGINAL.message_id,
    )
    assert event.intake_id == 9 and event.received_at == NOW
    assert not event.signed and event.delivery_id is None and event.sending_ip is None


@pytest.mark.parametrize(
    ("kind", "reason", "suppress"),
    [
        (BounceKind.HARD, Reason.USERUNKNOWN, True),
        (BounceKind.COMPLAINT, Reason.FEEDBACK, True),
        (BounceKind.SOFT, Reason.MAILBOXFULL, False),
        (BounceKind.BLOCKED, Reason.BLOCKED, False),
    ],
)
def test_signed_bounce_counts_the_token_recipient(kind: BounceKind, reason: Reason, suppress: bool) -> None:
    item = _cf("ann@EXAMPLE.org", kind, reason)
    [event] = plan_events([item], _parsed(item), SIGNED, "record", NOW, 3)
    assert event.suppress is suppress and event.signed
    assert event.recipient == "ann@example.org" and event.delivery_id == 17
    assert (event.mailing_id, event.from_domain, event.sending_ip, event.message_id) == (
        "mailing-from-token",
        "token.test",
        "192.0.2.5",
        "<our-id@token.test>",
    )


def test_signed_bounce_about_a_forwarded_address_is_attributed_to_the_token() -> None:
    item = _cf("ann.final@forwarded.test", BounceKind.HARD, Reason.USERUNKNOWN)
    [event] = plan_events([item], _parsed(item), SIGNED, "record", NOW, 3)
    assert event.recipient == "ann@example.org" and event.suppress and event.delivery_id == 17


def test_other_addresses_in_a_signed_bounce_are_recorded_not_suppressed() -> None:
    other = _cf("mallory@victim.test", BounceKind.HARD, Reason.USERUNKNOWN)
    ours = _cf("ann@example.org", BounceKind.HARD, Reason.USERUNKNOWN)
    events = plan_events([other, ours], _parsed(other, ours), SIGNED, "suppress", NOW, 3)
    assert [(e.recipient, e.suppress, e.signed, e.delivery_id) for e in events] == [
        ("mallory@victim.test", False, False, None),
        ("ann@example.org", True, True, 17),
    ]


def test_unsigned_attribution_gives_metadata_but_no_suppression() -> None:
    guess = Attribution(recipient="bob@example.org", delivery_id=5, mailing_id="m-guess", signed=False)
    item = _cf("bob@example.org", BounceKind.HARD, Reason.USERUNKNOWN)
    [event] = plan_events([item], _parsed(item), guess, "record", NOW, 1)
    assert not event.suppress and not event.signed
    assert event.mailing_id == "m-guess" and event.from_domain == "sender.test" and event.delivery_id == 5


def test_retry_after_and_soft_details_are_carried() -> None:
    item = ClassifiedFailure(
        Failure(
            recipient="c@example.org",
            status="4.7.1",
            reply_code=451,
            diagnostic="greylisted",
            remote_mta="mx.x",
        ),
        Classification(BounceKind.SOFT, Reason.GREYLISTED, retry_after=300),
    )
    [event] = plan_events([item], _parsed(item), None, "record", NOW, None)
    assert (event.retry_after, event.reply_code, event.remote_mta, event.diagnostic) == (
        300,
        451,
        "mx.x",
        "greylisted",
    )
    assert event.intake_id is None


def test_no_failures_no_events_and_bad_policy_is_refused() -> None:
    assert plan_events([], ParsedMessage(MessageType.NONE), None, "record", NOW, 1) == []
    with pytest.raises(ValueError, match="unsigned_bounces"):
        plan_events([], ParsedMessage(MessageType.NONE), None, "maybe", NOW, 1)


def test_original_without_from_gives_no_from_domain() -> None:
    item = _cf("d@example.org", BounceKind.SOFT, Reason.MAILBOXFULL, status="4.2.2")
    parsed = ParsedMessage(MessageType.DSN, failures=(item.failure,))
    [event] = plan_events([item], parsed, None, "record", NOW, 1)
    assert event.from_domain is None and event.mailing_id is None and event.message_id is None


_KINDS = st.sampled_from(list(BounceKind))
_RECIPIENTS = st.sampled_from(["ann@example.org", "Ann@EXAMPLE.org", "bob@example.org", "x@forward.test"])


@settings(max_examples=200, deadline=None)
@given(
    items=st.lists(st.tuples(_RECIPIENTS, _KINDS), min_size=1, max_size=4),
    signed=st.booleans(),
    policy=st.sampled_from(["record", "suppress"]),
)
def test_suppression_invariants(items: list[tuple[str, BounceKind]], signed: bool, policy: str) -> None:
    classified = [_cf(r, k, Reason.UNDEFINED) for r, k in items]
    attribution = Attribution(recipient="ann@example.org", delivery_id=1, signed=True) if signed else None
    events = plan_events(classified, _parsed(*classified), attribution, policy, NOW, 1)
    assert len(events) == len(classified)
    for event in events:
        if event.suppress:
            assert event.kind in (BounceKind.HARD, BounceKind.COMPLAINT)
            assert event.signed or (not signed and policy == "suppress")
        if signed and event.suppress:
            assert event.recipient == "ann@example.org"
    if signed:  # exactly one event speaks for the token
        assert sum(e.signed for e in events) == 1
    else:
        assert not any(e.signed for e in events)


def test_a_redacted_complaint_is_recorded_but_suppresses_only_through_the_token() -> None:
    item = _cf(
        "undisclosed-recipient-in-headers@libsisimai.org.invalid",
        BounceKind.COMPLAINT,
        Reason.FEEDBACK,
        recipient_redacted=True,
    )
    parsed = _parsed(item, message_type=MessageType.ARF)
    [unsigned] = plan_events([item], parsed, None, "suppress", NOW, 1)
    assert (unsigned.kind, unsigned.suppress) == (BounceKind.COMPLAINT, False)
    token = Attribution(recipient="ivan@isp.test", delivery_id=7, signed=True)
    [signed] = plan_events([item], parsed, token, "record", NOW, 1)
    assert (signed.recipient, signed.suppress, signed.signed, signed.delivery_id) == (
        "ivan@isp.test",
        True,
        True,
        7,
    )
