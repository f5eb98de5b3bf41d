"""A local program's exit status (Diagnostic-Code: X-Unix; N) read by sysexits.h's names."""

from __future__ import annotations

import pytest

from bounced.classify.classify import classify_failure
from bounced.config import ClassifyConfig
from bounced.model import Action, BounceKind, Failure, MessageType, Reason
from bounced.parse import parse_message


def _classify(
    diagnostic: str, status: str, kind: str | None = "x-unix"
) -> tuple[Reason, BounceKind, str | None]:
    action = Action.DELAYED if status.startswith("4") else Action.FAILED
    f = Failure(
        recipient="a@example.net", action=action, status=status, diagnostic=diagnostic, diagnostic_type=kind
    )
    c = classify_failure(f, MessageType.DSN, ClassifyConfig())
    return c.reason, c.kind, c.reason_rule


@pytest.mark.parametrize(
    ("diagnostic", "status", "reason", "kind"),
    [
        ("67", "5.1.1", Reason.USERUNKNOWN, BounceKind.HARD),  # EX_NOUSER
        ("68", "5.1.2", Reason.HOSTUNKNOWN, BounceKind.HARD),  # EX_NOHOST
        ("75", "5.0.0", Reason.MAILERERROR, BounceKind.SOFT),  # EX_TEMPFAIL: soft whatever Status says
        ("69", "5.0.0", Reason.MAILERERROR, BounceKind.HARD),  # EX_UNAVAILABLE (as Sisimai reads it)
        ("77", "5.0.0", Reason.MAILERERROR, BounceKind.HARD),  # EX_NOPERM
        ("71", "4.5.0", Reason.MAILERERROR, BounceKind.SOFT),  # EX_OSERR, still being retried
        ("255", "5.0.0", Reason.MAILERERROR, BounceKind.HARD),  # no sysexits name
    ],
)
def test_exit_status(diagnostic: str, status: str, reason: Reason, kind: BounceKind) -> None:
    got_reason, got_kind, rule = _classify(diagnostic, status)
    assert (got_reason, got_kind, rule) == (reason, kind, f"sysexits:{diagnostic}")


def test_a_number_under_another_type_is_no_exit_status() -> None:
    reason, _, rule = _classify("67", "5.1.1", kind="smtp")
    assert reason is Reason.USERUNKNOWN and rule == "status:5.1.1"  # the Status, not sysexits
    assert _classify("75", "5.0.0", kind="smtp")[1] is BounceKind.HARD


def test_program_words_we_do_not_know_are_a_mailer_error() -> None:
    assert _classify("the frobnicator refused", "5.0.0")[0:3:2] == (
        Reason.MAILERERROR,
        "diagnostic-type:x-unix",
    )
    assert _classify("the frobnicator refused", "5.0.0", kind="smtp")[0] is not Reason.MAILERERROR
    assert _classify("Quota exceeded message delivery failed", "5.0.0")[0] is Reason.MAILBOXFULL
    # Postfix's X-Postfix mostly quotes a remote SMTP reply (Sisimai's Lhost/Postfix.pm reads it so).
    assert _classify("the frobnicator refused", "5.0.0", kind="x-postfix")[0] is not Reason.MAILERERROR


def test_the_parser_keeps_the_diagnostic_type() -> None:
    raw = (
        b"From: MAILER-DAEMON@mx.example.org\r\nTo: news@sender.example\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nReturned mail.\r\n"
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n"
        b"Final-Recipient: RFC822; a@example.org\r\nX-Actual-Recipient: X-Unix; |/usr/bin/procmail\r\n"
        b"Action: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: X-Unix; 67\r\n\r\n--b--\r\n"
    )
    [f] = parse_message(raw).failures
    assert (f.diagnostic_type, f.diagnostic, f.reply_code) == ("x-unix", "67", None)
