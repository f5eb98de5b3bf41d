"""Table-driven classification: kinds, reasons, evidence precedence, message types."""

from __future__ import annotations

import pytest

from bounced.classify.classify import classify_failure, classify_message
from bounced.config import ClassifyConfig
from bounced.model import Action, BounceKind, Failure, MessageType, ParsedMessage, Reason

CONFIG = ClassifyConfig()
HARD, SOFT, BLOCKED = BounceKind.HARD, BounceKind.SOFT, BounceKind.BLOCKED


def failure(
    diagnostic: str = "",
    status: str | None = None,
    reply_code: int | None = None,
    action: Action = Action.FAILED,
    hint: str | None = None,
) -> Failure:
    return Failure(
        recipient="rcpt@example.net",
        action=action,
        status=status,
        reply_code=reply_code,
        diagnostic=diagnostic,
        reason_hint=hint,
    )


# The product's five documented soft-bounce texts (with real addresses in place of <EMAIL>).
DOCUMENTED = [
    (
        "421 Message source blocked temporarily. One or more sender authentication rules matched.",
        Reason.AUTHFAILURE,
        None,
    ),
    ("421 Service Temporarily Unavailable", Reason.NOTACCEPT, None),
    ("451 Please try again later", Reason.SYSTEMERROR, None),
    (
        "451 <rcpt@example.net>: Recipient address rejected: "
        "Intentional policy rejection, please try again later",
        Reason.POLICYVIOLATION,
        None,
    ),
    (
        "450 <rcpt@example.net>: Sender address rejected: Greylisted for 120 seconds! "
        "Please, see http://www.example.org/greylisting",
        Reason.GREYLISTED,
        120,
    ),
]


@pytest.mark.parametrize(("text", "reason", "retry_after"), DOCUMENTED)
@pytest.mark.parametrize("with_codes", [False, True], ids=["text-only", "with-dsn-fields"])
def test_documented_soft_texts(text: str, reason: Reason, retry_after: int | None, with_codes: bool) -> None:
    code = int(text[:3])
    f = failure(text, status="4.0.0", reply_code=code) if with_codes else failure(text)
    result = classify_failure(f, MessageType.DSN, CONFIG)
    assert (result.kind, result.reason, result.retry_after) == (SOFT, reason, retry_after)


@pytest.mark.parametrize(
    ("f", "kind", "reason"),
    [
        # The seed rule: 5xx about the address is hard.
        (failure("550 5.1.1 <rcpt@example.net>: User unknown", "5.1.1", 550), HARD, Reason.USERUNKNOWN),
        # No stage and no address status: a filter's answer (Sisimai Reason/Filtered.pm).
        (failure("550 No such user", None, 550), HARD, Reason.FILTERED),
        (failure("Host or domain name not found", "5.4.4"), HARD, Reason.HOSTUNKNOWN),
        (failure("550 5.1.6 recipient no longer on server", "5.1.6", 550), HARD, Reason.HASMOVED),
        (failure("550 5.2.1 This mailbox is disabled", "5.2.1", 550), HARD, Reason.SUSPEND),
        (failure("556 5.1.10 Recipient address has null MX", "5.1.10", 556), HARD, Reason.NOTACCEPT),
        (failure("554 5.0.0 something odd happened", "5.0.0", 554), HARD, Reason.ONHOLD),
        # 5xx about the sender or the message: blocked, never an address verdict.
        (
            failure("554 5.7.1 Client host [192.0.2.1] blocked using zen.spamhaus.org", "5.7.1", 554),
            BLOCKED,
            Reason.BLOCKED,
        ),
        (
            failure(
                "550 5.7.26 Unauthenticated email is not accepted due to domain's DMARC policy", "5.7.26", 550
            ),
            BLOCKED,
            Reason.AUTHFAILURE,
        ),
        (failure("550 5.7.1 SPF check failed", "5.7.1", 550), BLOCKED, Reason.AUTHFAILURE),
        (
            failure(
                "550 5.7.25 The IP address sending this message does not have a PTR record", "5.7.25", 550
            ),
            BLOCKED,
            Reason.REQUIREPTR,
        ),
        (failure("554 5.7.1 Message rejected as spam", "5.7.1", 554), BLOCKED, Reason.SPAMDETECTED),
        (
            failure("554 5.7.9 Message not accepted for policy reasons", "5.7.9", 554),
            BLOCKED,
            Reason.POLICYVIOLATION,
        ),
        (failure("550 5.7.1 Delivery not authorized", "5.7.1", 550), BLOCKED, Reason.SECURITYERROR),
        (
            failure("553 5.1.8 Domain of sender address does not exist", "5.1.8", 553),
            BLOCKED,
            Reason.REJECTED,
        ),
        (failure("552 5.3.4 Message too big for system", "5.3.4", 552), BLOCKED, Reason.MESGTOOBIG),
        (failure("554 5.7.1 Relay access denied", "5.7.1", 554), BLOCKED, Reason.NORELAYING),
        # Temporary by nature even with 5xx (mailbox full is an overridable default).
        (failure("552 5.2.2 Mailbox full", "5.2.2", 552), SOFT, Reason.MAILBOXFULL),
        (failure("550 5.4.7 Delivery time expired", "5.4.7", 550), SOFT, Reason.EXPIRED),
        # 4xx is soft whatever the surrounding words say.
        (
            failure(
                "SMTP error from remote mail server after RCPT TO:<rcpt@example.net>: 450 4.2.0 Greylisted "
                "- this is a permanent error",
                "5.0.0",
            ),
            SOFT,
            Reason.GREYLISTED,
        ),
        (
            failure("Remote host said: 451 Permanent failure: please try again later", "5.0.0"),
            SOFT,
            Reason.SYSTEMERROR,
        ),
        (failure("452 4.2.2 Mailbox full", "4.2.2", 452), SOFT, Reason.MAILBOXFULL),
        (failure("452 4.3.4 Message too big for now", "4.3.4", 452), SOFT, Reason.MESGTOOBIG),
        (failure("421 4.7.0 Too many connections", "4.7.0", 421), SOFT, Reason.TOOMANYCONN),
        (
            failure("450 4.7.1 Client host rejected: blocked using bl.example.org", "4.7.1", 450),
            SOFT,
            Reason.BLOCKED,
        ),
        # Conflicting codes: any 4xx from the remote server wins (soft loses nothing).
        (failure("550 4.2.0 greylisted, come back later", "5.0.0", 550), SOFT, Reason.GREYLISTED),
        # The remote's in-text code beats the reporting MTA's generated Status.
        (failure("451 4.3.0 temporary local problem", "5.3.0"), SOFT, Reason.SYSTEMERROR),
        (failure("550 5.1.1 user unknown", "4.4.7"), HARD, Reason.USERUNKNOWN),
        # Delay notices are soft: the remote side is still retrying.
        (failure("550 5.1.1 user unknown", "5.1.1", 550, action=Action.DELAYED), SOFT, Reason.USERUNKNOWN),
        (failure("Delivery attempts will continue", "4.4.7", action=Action.DELAYED), SOFT, Reason.EXPIRED),
        (failure("", "4.0.0", action=Action.DELAYED), SOFT, Reason.EXPIRED),
        # No code at all: the reason decides.
        (failure("Sorry, no mailbox here by that name"), HARD, Reason.USERUNKNOWN),
        (failure("This message has been in the queue too long"), SOFT, Reason.EXPIRED),
        (failure("user is over quota"), SOFT, Reason.MAILBOXFULL),
        (failure("your remote host is blacklisted"), BLOCKED, Reason.BLOCKED),
        (failure("something unusual"), SOFT, Reason.ONHOLD),
        (failure(""), SOFT, Reason.UNDEFINED),
        # Nothing but the address again is no explanation either.
        (failure("* rcpt@example.net"), SOFT, Reason.UNDEFINED),
        # Sisimai's reading: "user unknown" only after DATA, or under X.2.0, is a filter.
        (
            failure("550 5.1.1 User unknown (in reply to end of DATA command)", "5.1.1", 550),
            HARD,
            Reason.FILTERED,
        ),
        (failure("550 Unknown user", "5.2.0", 550), HARD, Reason.FILTERED),
        # A lookup that says it is temporary is a network error, not an unknown host.
        (
            failure("Name service error for domain example.net: Host not found, try again"),
            SOFT,
            Reason.NETWORKERROR,
        ),
        (
            failure(
                "Host or domain name not found. Name service error for name=example.net: Host not found",
                "5.4.4",
            ),
            HARD,
            Reason.HOSTUNKNOWN,
        ),
        # Provider patterns: texts whose meaning differs from their words.
        (
            failure("Hallo, die Gruppe existiert nicht ... https://groups.google.com/support/"),
            BLOCKED,
            Reason.REJECTED,
        ),
        (failure("550 : User unknown", "5.0.0", 550), HARD, Reason.FILTERED),
        (
            failure(
                "550 SC-001 (BAY0-MC1-F1) Unfortunately, messages from 192.0.2.1 weren't sent.", None, 550
            ),
            BLOCKED,
            Reason.BLOCKED,
        ),
        # A parser hint from a detector that knows its format wins over guessing.
        (failure("550 something", "5.0.0", 550, hint="userunknown"), HARD, Reason.USERUNKNOWN),
    ],
)
def test_kind_and_reason(f: Failure, kind: BounceKind, reason: Reason) -> None:
    result = classify_failure(f, MessageType.DSN, CONFIG)
    assert (result.kind, result.reason) == (kind, reason), result.rule


@pytest.mark.parametrize("action", [Action.DELIVERED, Action.RELAYED, Action.EXPANDED])
def test_success_actions_are_delivered(action: Action) -> None:
    result = classify_failure(failure("250 2.0.0 OK", "2.0.0", 250, action=action), MessageType.DSN, CONFIG)
    assert (result.kind, result.reason) == (BounceKind.DELIVERED, Reason.DELIVERED)


def test_arf_is_a_complaint() -> None:
    f = Failure(
        recipient="user@example.net", action=Action.FAILED, reason_hint="feedback", feedback_type="abuse"
    )
    result = classify_failure(f, MessageType.ARF, CONFIG)
    assert (result.kind, result.reason, result.retry_after) == (BounceKind.COMPLAINT, Reason.FEEDBACK, None)


def test_autoreply() -> None:
    f = Failure(recipient="user@example.net", reason_hint="vacation", diagnostic="I am out of the office")
    result = classify_failure(f, MessageType.AUTOREPLY, CONFIG)
    assert (result.kind, result.reason) == (BounceKind.AUTOREPLY, Reason.VACATION)


def test_greylisted_without_number_uses_configured_default() -> None:
    f = failure("450 4.7.1 Greylisted, please try again later", "4.7.1", 450)
    assert classify_failure(f, MessageType.DSN, ClassifyConfig(greylist_default_delay=420)).retry_after == 420
    assert classify_failure(f, MessageType.DSN, CONFIG).retry_after == 300


def test_rate_limit_delay_is_kept() -> None:
    result = classify_failure(
        failure("421 4.7.0 rate limit exceeded, try again in 10 minutes"), MessageType.DSN, CONFIG
    )
    assert (result.kind, result.reason, result.retry_after) == (SOFT, Reason.SPEEDING, 600)


def test_hard_bounces_carry_no_retry_after() -> None:
    result = classify_failure(
        failure("550 5.1.1 user unknown, retry in 5 minutes", "5.1.1", 550), MessageType.DSN, CONFIG
    )
    assert (result.kind, result.retry_after) == (HARD, None)


def test_classify_message_one_per_failure_in_order() -> None:
    parsed = ParsedMessage(
        message_type=MessageType.DSN,
        failures=(
            failure("550 5.1.1 user unknown", "5.1.1", 550),
            failure("452 4.2.2 mailbox full", "4.2.2", 452),
            failure("554 5.7.1 blocked using zen.spamhaus.org", "5.7.1", 554),
        ),
    )
    result = classify_message(parsed, CONFIG)
    assert [c.failure for c in result] == list(parsed.failures)
    assert [(c.kind, c.reason) for c in result] == [
        (HARD, Reason.USERUNKNOWN),
        (SOFT, Reason.MAILBOXFULL),
        (BLOCKED, Reason.BLOCKED),
    ]


def test_classify_message_none_is_empty() -> None:
    assert classify_message(ParsedMessage(message_type=MessageType.NONE), CONFIG) == []


def test_rule_names_the_decision() -> None:
    assert classify_failure(failure("450 4.2.0 Greylisted"), MessageType.DSN, CONFIG).rule == "default:4xx"
    rule = classify_failure(failure("552 5.2.2 Mailbox full", "5.2.2", 552), MessageType.DSN, CONFIG).rule
    assert rule == "default:5xx-soft-reason"


@pytest.mark.parametrize(
    "text",
    [
        "550 5.1.0 Sender domain does not exist",
        "550 5.7.1 Sender domain example.com does not exist",
        "553 sorry, your envelope sender domain must exist (#5.7.1)",
        "550 5.7.1 Your domain does not exist",
        "550 Verification failed for <bounce@example.org> unrouteable address",
        "550 5.1.1 Envelope sender mailbox does not exist",
        "550 5.7.1 Sender address does not exist",
        "550 Requested action not taken: sender mailbox unavailable",
        "554 5.7.1 Rejected: Return-Path domain does not exist",
        "553 5.1.8 <bounce@example.org>: Sender address rejected: Domain not found",
        "550 Access denied - Invalid HELO name (See RFC2821 4.1.1.1)",
        "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
        "550 5.7.606 Access denied, banned sending IP [192.0.2.1]",
        "554 5.0.0 Service unavailable",
        "550 We are not accepting mail from your IP address",
        "550 5.7.26 This mail has been blocked because the sender is unauthenticated.",
    ],
)
def test_refusals_about_the_sender_are_never_hard(text: str) -> None:
    result = classify_failure(failure(text, None, int(text[:3])), MessageType.DSN, CONFIG)
    assert result.kind is BLOCKED, (result.reason, result.rule)


def test_dotted_numbers_are_not_status_codes() -> None:
    # "RFC 2821 4.1.1.1" is a section number and 10.4.4.7 an address, not 4.x.x statuses.
    for text in ("550 Invalid HELO name (See RFC2821 4.1.1.1)", "550 host 10.4.4.7 refused: user unknown"):
        assert classify_failure(failure(text), MessageType.DSN, CONFIG).kind is not SOFT


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        # No recipient has been named before RCPT TO: an "unknown user" there is our sender.
        (
            "SMTP error from remote mail server after MAIL FROM:<b@example.org>: 550 5.1.1 User unknown",
            Reason.REJECTED,
        ),
        (
            "SMTP error from remote mail server after initial connection: 554 5.0.0 Service unavailable",
            Reason.BLOCKED,
        ),
        (
            "SMTP error from remote mail server after RCPT TO:<a@example.net>: 550 5.1.1 User unknown",
            Reason.USERUNKNOWN,
        ),
    ],
)
def test_the_smtp_stage_overrules_address_reasons(text: str, reason: Reason) -> None:
    result = classify_failure(failure(text, "5.0.0"), MessageType.DSN, CONFIG)
    assert result.reason is reason
    assert result.kind is (HARD if reason is Reason.USERUNKNOWN else BLOCKED)


@pytest.mark.parametrize(
    ("command", "text", "reason", "kind"),
    [
        ("MAIL", "550 5.7.1 Access denied", Reason.BLOCKED, BLOCKED),  # already sender-side: kept
        ("MAIL", "550 5.1.1 User unknown", Reason.REJECTED, BLOCKED),
        ("EHLO", "550 Rejected", Reason.BLOCKED, BLOCKED),
        ("DATA", "550 : User unknown", Reason.FILTERED, HARD),
        ("DATA", "550 Unknown user someone@example.net", Reason.FILTERED, HARD),
        ("RCPT", "550 5.1.1 User unknown", Reason.USERUNKNOWN, HARD),
    ],
)
def test_parser_smtp_command_is_used(command: str, text: str, reason: Reason, kind: BounceKind) -> None:
    f = Failure(
        recipient="rcpt@example.net", status="5.0.0", reply_code=550, diagnostic=text, smtp_command=command
    )
    result = classify_failure(f, MessageType.DSN, ClassifyConfig(provider_patterns=False))
    assert (result.reason, result.kind) == (reason, kind)
