"""The readings of Sisimai's order of reasons (bounced/classify/sisimai_order.py): each one
decides where its documented condition holds, names itself, and can be switched off."""

from __future__ import annotations

import pytest

from bounced.classify.classify import decide_reason_rule
from bounced.classify.rules import DEFAULT_RULES
from bounced.model import Action, Failure, Reason

CASES = [
    # (reply code, status, SMTP stage, diagnostic, reason, rule that decides)
    (
        550,
        "5.1.1",
        None,
        "550 5.1.1 <a@b.example>... this mail was scanned for viruses by the gateway",
        Reason.USERUNKNOWN,
        "status-userunknown",
    ),
    (
        554,
        "5.7.1",
        "RCPT",
        "554 5.7.1 spam source: your IP is listed at a blocklist",
        Reason.BLOCKED,
        "spam-before-data",
    ),
    (
        421,
        "4.7.1",
        None,
        "421 4.7.1 sender address rejected, come back later",
        Reason.BLOCKED,
        "rejected-needs-stage",
    ),
    (
        550,
        "5.6.0",
        None,
        "550 5.6.0 message rejected by our policy",
        Reason.CONTENTERROR,
        "status-name-first",
    ),
    (421, "4.7.1", None, "421 4.7.1 temporarily deferred", Reason.BLOCKED, "sisimai-status"),
    (504, None, None, "504 nope", Reason.SYNTAXERROR, "reply-code-syntax"),
]
DELAYED = Failure(
    recipient="a@b.example",
    action=Action.DELAYED,
    status="4.4.0",
    diagnostic="the server will keep at it for a day",
)


@pytest.mark.parametrize(("code", "status", "stage", "text", "reason", "rule"), CASES)
def test_reading_decides_and_names_itself(
    code: int, status: str | None, stage: str | None, text: str, reason: Reason, rule: str
) -> None:
    failure = Failure(
        recipient="a@b.example", reply_code=code, status=status, smtp_command=stage, diagnostic=text
    )
    got, named = decide_reason_rule(failure)
    assert (got, named.partition(" + ")[0].partition(":")[0]) == (reason, rule.partition(":")[0]), named
    _, named_off = decide_reason_rule(failure, rules=DEFAULT_RULES.without([rule]))
    assert rule not in named_off


@pytest.mark.parametrize(
    ("status", "stage", "text", "reason"),
    [
        # A refusal that names our sender never turns into an address reason (docs/classify.md).
        ("5.1.0", None, "550 5.1.0 Sender domain does not exist", Reason.REJECTED),
        # "User unknown" after DATA stays a filter's answer, even under an address status.
        ("5.1.1", "DATA", "550 5.1.1 User unknown", Reason.FILTERED),
    ],
)
def test_readings_that_do_not_apply(status: str, stage: str | None, text: str, reason: Reason) -> None:
    failure = Failure(
        recipient="a@b.example", reply_code=550, status=status, smtp_command=stage, diagnostic=text
    )
    assert decide_reason_rule(failure)[0] is reason


def test_delay_notice_with_an_unnamed_status_is_expired() -> None:
    assert decide_reason_rule(DELAYED)[0] is Reason.EXPIRED
    off = DEFAULT_RULES.without(["delayed-unnamed-status"])
    assert decide_reason_rule(DELAYED, rules=off)[0] is Reason.NETWORKERROR  # the RFC 3463 subject
