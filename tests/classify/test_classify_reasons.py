"""Reason detection from text, retry_after extraction, and robustness on hostile input."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bounced.classify.classify import classify_failure
from bounced.classify.diagnostic import normalise_text
from bounced.classify.reason_table import REASON_TABLE, parse_table
from bounced.classify.reasons import detect_reason, is_greylisting, retry_after_seconds
from bounced.config import ClassifyConfig
from bounced.model import Failure, MessageType, Reason


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("552 5.2.2 Mailbox full", Reason.MAILBOXFULL),
        ("452 4.2.2 user is over quota", Reason.MAILBOXFULL),
        ("Quota exceeded (mailbox for user is full)", Reason.MAILBOXFULL),
        ("insufficient storage", Reason.MAILBOXFULL),
        # Sisimai 5 lists these under MailboxFull, which it tries before SystemFull.
        ("452 4.3.1 write error: No space left on device", Reason.MAILBOXFULL),
        ("452 4.3.1 Insufficient system storage", Reason.SYSTEMFULL),
        (
            "550 5.1.1 <a@b.example>: Recipient address rejected: User unknown in local recipient table",
            Reason.USERUNKNOWN,
        ),
        ("550 No such user here", Reason.USERUNKNOWN),
        ("550 Requested action not taken: mailbox unavailable", Reason.USERUNKNOWN),
        ("550 5.1.1 The email account that you tried to reach does not exist.", Reason.USERUNKNOWN),
        ("550 invalid recipient", Reason.USERUNKNOWN),
        (
            "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
            Reason.BLOCKED,
        ),
        ("550 5.7.1 Your IP is blacklisted", Reason.BLOCKED),
        ("550 5.7.26 This message does not pass DMARC policy", Reason.AUTHFAILURE),
        ("550 5.7.1 SPF check failed for sender domain", Reason.AUTHFAILURE),
        (
            "550 5.7.25 The IP address sending this message does not have a PTR record setup",
            Reason.REQUIREPTR,
        ),
        ("554 reverse DNS lookup failed for 192.0.2.1", Reason.REQUIREPTR),
        ("550 Message content rejected, UBE", Reason.SPAMDETECTED),
        ("554 5.7.1 Message rejected as spam", Reason.SPAMDETECTED),
        ("554 Email not accepted for policy reasons", Reason.POLICYVIOLATION),
        ("553 5.1.8 Sender address rejected: Domain not found", Reason.REJECTED),
        ("Delivery time expired", Reason.EXPIRED),
        ("retry timeout exceeded", Reason.EXPIRED),
        ("connect to mx.example.com[192.0.2.1]:25: No route to host", Reason.NETWORKERROR),
        ("Host or domain name not found. Name service error for name=example.invalid", Reason.HOSTUNKNOWN),
        ("550 5.2.1 This account is disabled", Reason.SUSPEND),
        ("550 user account inactive", Reason.SUSPEND),
        ("421 Too many connections from your IP", Reason.TOOMANYCONN),
        ("450 4.7.1 Rate limit exceeded, slow down", Reason.SPEEDING),
        ("521 5.1.10 Recipient address has null MX", Reason.NOTACCEPT),
        ("554 5.7.1 <a@b.example>: Relay access denied", Reason.NORELAYING),
        ("552 5.3.4 Message size exceeds fixed maximum message size", Reason.MESGTOOBIG),
        ("450 Greylisted, see http://example.org/greylisting", Reason.GREYLISTED),
        ("550 5.7.1 Virus detected in the message", Reason.VIRUSDETECTED),
        # Provider phrases whose other words mislead ("rate limited", "blocked").
        (
            "421 4.7.26 This mail has been rate limited because it is unauthenticated. Gmail requires all "
            "senders to authenticate with either SPF or DKIM.",
            Reason.AUTHFAILURE,
        ),
        (
            "421 4.7.29 Your email has been rate limited because this message wasn't sent over a TLS "
            "connection. Gmail requires all bulk email senders to use TLS/SSL for SMTP connections.",
            Reason.FAILEDSTARTTLS,
        ),
        (
            "550 5.7.1 Our system has detected an unusual rate of unsolicited mail originating from your IP",
            Reason.BLOCKED,
        ),
        ("450 4.2.1 The user you are trying to contact is receiving mail too quickly.", Reason.SPEEDING),
        (
            "550 5.7.1 This message is not RFC 5322 compliant because it has duplicate headers.",
            Reason.NOTCOMPLIANTRFC,
        ),
        ("535 5.7.8 Username and Password not accepted.", Reason.SECURITYERROR),
        ("503 5.5.1 Bad sequence of commands.", Reason.SYNTAXERROR),
        ("some words that mean nothing in particular", None),
        ("", None),
    ],
)
def test_detect_reason(text: str, reason: Reason | None) -> None:
    assert detect_reason(text) == reason


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("450 4.2.0 Greylisted for 120 seconds! Please, see https://example.org", 120),
        ("451 try again in 5 minutes", 300),
        ("421 rate limited, retry in 1 hour", 3600),
        ("450 please retry after 60s", 60),
        ("451 4.7.1 Greylisting in action, please come back in 300 secs", 300),
        ("421 Too many messages, wait 2 min and try again", 120),
        ("451 deferred for 90 seconds", 90),
        ("451 4.7.1 Please try again later", None),
        ("550 5.1.1 user unknown", None),
        ("mailbox full since 3 days", None),
    ],
)
def test_retry_after_seconds(text: str, seconds: int | None) -> None:
    assert retry_after_seconds(text) == seconds


def test_retry_after_uses_default_only_for_greylisting() -> None:
    assert retry_after_seconds("450 4.7.1 Greylisted, try again later", greylist_default=300) == 300
    assert retry_after_seconds("450 4.7.1 Service busy, try again later", greylist_default=300) is None
    assert retry_after_seconds("450 Greylisted for 45 seconds", greylist_default=300) == 45


def test_is_greylisting() -> None:
    assert is_greylisting("451 Grey-listed, please retry")
    assert not is_greylisting("550 user unknown")


def test_normalise_text_collapses_and_caps() -> None:
    assert normalise_text("  550\r\n   User\tUnknown ") == "550 user unknown"
    assert len(normalise_text("x " * 10_000_000)) <= 8192


def test_every_table_fragment_compiles_and_table_is_ordered_by_section() -> None:
    import re

    reasons = [reason for reason, _, _ in REASON_TABLE]
    assert reasons[0] is Reason.GREYLISTED  # greylisting must beat "sender address rejected"
    for _, _, fragments in REASON_TABLE:
        assert fragments
        for fragment in fragments:
            re.compile(fragment)
    assert parse_table("[userunknown]\nno such user\n\n# a comment\n[expired generic]\nlater\n") == (
        (Reason.USERUNKNOWN, False, ("no such user",)),
        (Reason.EXPIRED, True, ("later",)),
    )


_CONFIG = ClassifyConfig()


@settings(max_examples=300, deadline=None)
@given(
    diagnostic=st.text(max_size=3000),
    status=st.one_of(
        st.none(), st.text(max_size=12), st.from_regex(r"[245]\.\d{1,3}\.\d{1,3}", fullmatch=True)
    ),
    reply_code=st.one_of(st.none(), st.integers(min_value=-1000, max_value=100_000)),
    message_type=st.sampled_from(list(MessageType)),
    hint=st.one_of(st.none(), st.text(max_size=20), st.sampled_from([r.value for r in Reason])),
)
def test_classify_failure_never_raises(
    diagnostic: str, status: str | None, reply_code: int | None, message_type: MessageType, hint: str | None
) -> None:
    failure = Failure(
        recipient="a@example.com",
        status=status,
        reply_code=reply_code,
        diagnostic=diagnostic,
        reason_hint=hint,
    )
    result = classify_failure(failure, message_type, _CONFIG)
    assert result.reason in Reason
    assert result.retry_after is None or result.retry_after >= 0


@pytest.mark.parametrize(
    "text",
    [
        "a" * 10_000_000,
        "550 " + "user " * 2_000_000,
        "greylisted " + "9" * 10_000_000,
        "try again in " + " " * 10_000_000 + "5 minutes",
        ("550 5.1.1 " + "x@" * 5_000_000),
    ],
    ids=["letters", "words", "digits", "spaces", "at-signs"],
)
def test_classify_is_fast_on_10_mb_text(text: str) -> None:
    failure = Failure(recipient="a@example.com", diagnostic=text)
    started = time.process_time()
    classify_failure(failure, MessageType.DSN, _CONFIG)
    retry_after_seconds(text, 300)
    # Work is capped to a few KiB of text: CPU seconds (other load on the box cannot fail it).
    assert time.process_time() - started < 2.0
