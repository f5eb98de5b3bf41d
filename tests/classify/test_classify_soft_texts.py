"""describe_bounce_text: labels and descriptions of known soft-bounce texts for the report."""

from __future__ import annotations

import pytest

from bounced.classify.soft_texts import REASON_DESCRIPTIONS, describe_bounce_text
from bounced.model import Reason


@pytest.mark.parametrize(
    ("text", "reason", "label", "words"),
    [
        (
            "421 Message source blocked temporarily. One or more sender authentication rules matched.",
            "authfailure",
            "Sender authentication failed (temporary)",
            ("SPF", "DKIM", "DMARC"),
        ),
        (
            "421 Service Temporarily Unavailable",
            "notaccept",
            "Service temporarily unavailable",
            ("overloaded",),
        ),
        ("451 Please try again later", "systemerror", "Try again later", ("temporary issue",)),
        (
            "451 <bob@example.net>: Recipient address rejected: "
            "Intentional policy rejection, please try again later",
            "policyviolation",
            "Policy rejection (temporary)",
            ("policy",),
        ),
        (
            "450 <alice@example.org>: Sender address rejected: Greylisted for 120 seconds! Please, see http://x.example",
            "greylisted",
            "Greylisted",
            ("retry after 120 seconds",),
        ),
        ("452 4.2.2 Mailbox full", "mailboxfull", "Mailbox full", ("quota",)),
        ("452 4.3.4 Message size exceeds limit", "mesgtoobig", "Message too big", ("larger",)),
        ("421 4.7.0 Rate limit exceeded", "speeding", "Rate limited", ("slow down",)),
        ("421 Too many connections from your host", "toomanyconn", "Too many connections", ("concurrent",)),
        ("Host not found, try again (DNS lookup)", "networkerror", "DNS failure", ("DNS",)),
        ("connect to mx.example.net: Connection timed out", "expired", "Network failure", ("reached",)),
        ("Delivery time expired", "expired", "Delivery expired", ("retry period",)),
        (
            "This is an automatically generated Delivery Status Notification. THIS IS A WARNING MESSAGE "
            "ONLY. YOU DO NOT NEED TO RESEND YOUR MESSAGE. Delivery to the following recipients has been "
            "delayed.",
            "expired",
            "Delivery delayed",
            ("still retrying",),
        ),
        (
            "... Deferred: 421 Warning: message still undelivered after 4 hours Will keep trying until "
            "message is 5 days old",
            "expired",
            "Delivery delayed",
            ("not delivered yet",),
        ),
        ("Message delayed", "expired", "Delivery delayed", ("delay notice",)),
    ],
)
def test_known_texts(text: str, reason: str, label: str, words: tuple[str, ...]) -> None:
    got_label, description = describe_bounce_text(text, int(text[:3]) if text[:3].isdigit() else None, reason)
    assert got_label == label
    for word in words:
        assert word.lower() in description.lower()


def test_greylisting_without_number_has_generic_delay_text() -> None:
    label, description = describe_bounce_text("450 4.7.1 Greylisted, come back later", 450, "greylisted")
    assert label == "Greylisted"
    assert "the delay it names" in description


@pytest.mark.parametrize("reason", [r.value for r in REASON_DESCRIPTIONS])
def test_fallback_per_reason(reason: str) -> None:
    label, description = describe_bounce_text("xyzzy", None, reason)
    assert (label, description) == REASON_DESCRIPTIONS[Reason(reason)]


def test_unknown_reason_and_empty_text_fall_back_to_undefined() -> None:
    assert describe_bounce_text("", None, "not-a-reason") == REASON_DESCRIPTIONS[Reason.UNDEFINED]
