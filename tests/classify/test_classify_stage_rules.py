"""Rules ported from Sisimai: "user unknown" vs "filtered", the SMTP stage, provider codes."""

from __future__ import annotations

import pytest

from bounced.classify.classify import classify_failure
from bounced.config import ClassifyConfig
from bounced.model import BounceKind, Failure, MessageType, Reason

CONFIG = ClassifyConfig()
HARD, BLOCKED = BounceKind.HARD, BounceKind.BLOCKED


def classify(
    text: str, status: str | None, command: str | None = None, remote: str | None = None
) -> tuple[Reason, BounceKind]:
    f = Failure(
        recipient="rcpt@example.net",
        status=status,
        reply_code=550,
        diagnostic=text,
        smtp_command=command,
        remote_mta=remote,
    )
    result = classify_failure(f, MessageType.DSN, CONFIG)
    return result.reason, result.kind


@pytest.mark.parametrize(
    ("text", "status", "command", "reason"),
    [
        # Under a status that names something else (mailbox disabled, not authorised) and with
        # no sign of RCPT TO, the words are a filter's (Sisimai Reason/Filtered.pm).
        ("550 5.2.1 <rcpt@example.net>... User Unknown", "5.2.1", None, Reason.FILTERED),
        ("550 5.7.1 550 User Unknown: rcpt@example.net", "5.7.1", None, Reason.FILTERED),
        # ... but at RCPT TO they mean an unknown mailbox (Sisimai Reason/UserUnknown.pm).
        ("550 5.2.1 <rcpt@example.net>... User Unknown", "5.2.1", "RCPT", Reason.USERUNKNOWN),
        # An address status keeps the words' meaning, whatever the stage is not.
        ("550 5.1.1 <rcpt@example.net>... User Unknown", "5.1.1", None, Reason.USERUNKNOWN),
        # ... but only the ones Sisimai's SMTP/Status.pm names userunknown (5.1.0, 5.1.1, 5.1.3).
        ("550 5.1.2 <rcpt@example.net>... User Unknown", "5.1.2", None, Reason.FILTERED),
        ("550 5.1.2 <rcpt@example.net>... User Unknown", "5.1.2", "RCPT", Reason.USERUNKNOWN),
        (
            "550 5.1.351 unknown recipient or mailbox unavailable -> 550 User unknown",
            "5.1.351",
            None,
            Reason.USERUNKNOWN,
        ),
        # The server's own code in the text names the failure, not the reporting MTA's Status.
        ("550 5.1.1 user unknown", "5.2.1", None, Reason.USERUNKNOWN),
        # With no address status and no sign of RCPT TO, the words are a filter's, as in
        # Sisimai's Reason/Filtered.pm (its per-MTA modules decide otherwise only for their
        # fixed texts: the `[userunknown fixed]` section).
        ("550 Unknown user rcpt@example.net", "5.0.0", None, Reason.FILTERED),
        ("550 Unknown user rcpt@example.net", None, None, Reason.FILTERED),
        ("550 Unknown user rcpt@example.net", None, "RCPT", Reason.USERUNKNOWN),
        ("Invalid final delivery userid: rcpt@example.net", None, None, Reason.USERUNKNOWN),
        ("Sorry, no mailbox here by that name. (#5.1.1)", None, None, Reason.USERUNKNOWN),
    ],
)
def test_user_unknown_or_filtered(text: str, status: str | None, command: str | None, reason: Reason) -> None:
    assert classify(text, status, command) == (reason, HARD)  # both condemn the address


def test_the_stage_in_the_text_keeps_an_unknown_user_unknown() -> None:
    text = "most progress was RCPT TO response; remote host 192.0.2.3 said: 550 Unknown user"
    assert classify(text, "5.5.0") == (Reason.USERUNKNOWN, HARD)
    assert classify("550 Unknown user", "5.5.0") == (Reason.FILTERED, HARD)


def test_a_security_refusal_at_mail_from_keeps_its_reason() -> None:
    # Sisimai's Reason/Rejected.pm: only "rejected" words make a MAIL FROM refusal "rejected".
    assert classify("550 5.7.1 Delivery not authorized", "5.7.1", "MAIL") == (Reason.SECURITYERROR, BLOCKED)
    # A vague reason still may not condemn the address: no recipient was named yet.
    assert classify("554 Transaction failed", "5.0.0", "MAIL") == (Reason.REJECTED, BLOCKED)


def test_kddi_names_the_unknown_address_on_its_own_hosts() -> None:
    # Sisimai Rhost/KDDI.pm: "550 <address>: User unknown" from au / ezweb is an unknown mailbox,
    # "550 : User unknown" (no address) the carrier's domain filter.
    text = "550 <rcpt@ezweb.ne.jp>: User unknown"
    assert classify(text, "5.2.1", remote="lsean.ezweb.ne.jp") == (Reason.USERUNKNOWN, HARD)
    assert classify(text.replace("ezweb.ne.jp", "example.net"), "5.2.1", remote="mx.example.net") == (
        Reason.FILTERED,
        HARD,
    )
    assert classify("550 : User unknown", "5.0.0", remote="lsean.ezweb.ne.jp") == (Reason.FILTERED, HARD)


@pytest.mark.parametrize(
    ("text", "status"),
    [
        (
            "550 5.4.1 [rcpt@example.net]: Recipient address rejected: Access denied [mx.example.net]",
            "5.4.1",
        ),
        ("550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup", "5.1.10"),
    ],
)
def test_exchange_online_unknown_recipients(text: str, status: str) -> None:
    # Sisimai Rhost/ExchangeOnline.pm: directory-based edge blocking and a failed lookup.
    assert classify(text, status) == (Reason.USERUNKNOWN, HARD)


def test_not_delivered_within_is_an_expiry() -> None:
    # Sisimai Lhost/EZweb.pm: the carrier's notice that its queue gave up; no code, so soft.
    f = Failure(
        recipient="rcpt@example.net",
        diagnostic="Your message was not delivered within 2 days and 0 hours. Remote host is not responding.",
    )
    result = classify_failure(f, MessageType.DSN, CONFIG)
    assert (result.reason, result.kind) == (Reason.EXPIRED, BounceKind.SOFT)
