"""The SMTP stage of a refusal, read from the bounce's prose (bounced.parse.stage)."""

from __future__ import annotations

import pytest

from bounced.classify.classify import classify_message
from bounced.config import ClassifyConfig
from bounced.model import BounceKind, Reason
from bounced.parse import parse_message

BOUNDARY = "b0undary"


def _dsn(prose: str, blocks: str) -> bytes:
    """A multipart/report bounce with `prose` as its text part and `blocks` as recipient fields."""
    return (
        "From: MAILER-DAEMON@mx.sender.example\r\n"
        "To: news@sender.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{BOUNDARY}"\r\n'
        "\r\n"
        f"--{BOUNDARY}\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n"
        f"{prose}\r\n"
        f"--{BOUNDARY}\r\n"
        "Content-Type: message/delivery-status\r\n"
        "\r\n"
        "Reporting-MTA: dns; mx.sender.example\r\n"
        "\r\n"
        f"{blocks}\r\n"
        f"--{BOUNDARY}--\r\n"
    ).encode()


def _block(address: str, status: str, diagnostic: str | None) -> str:
    lines = [f"Final-Recipient: rfc822; {address}", "Action: failed", f"Status: {status}"]
    if diagnostic is not None:
        lines.append(f"Diagnostic-Code: smtp; {diagnostic}")
    return "\r\n".join(lines) + "\r\n\r\n"


POSTFIX_PROSE = (
    "This is the mail system at host mx.sender.example.\r\n"
    "\r\n"
    "<ann@example.net>: host mx.example.net[192.0.2.7] said: 550 5.2.1\r\n"
    "    <ann@example.net>... User Unknown (in reply to RCPT TO\r\n"
    "    command)\r\n"
    "\r\n"
    "<bob@example.net>: host mx.example.net[192.0.2.7] said: 550 5.2.1\r\n"
    "    <bob@example.net>... User Unknown (in reply to end of DATA command)\r\n"
    "\r\n"
    "<cat@example.net>: host mx.example.net[192.0.2.7] said: 554\r\n"
    "    Transaction failed (in reply to MAIL FROM command)\r\n"
)


def test_postfix_paragraphs_give_each_recipient_its_stage() -> None:
    blocks = (
        _block("ann@example.net", "5.2.1", "550 5.2.1 <ann@example.net>... User Unknown")
        + _block("bob@example.net", "5.2.1", "550 5.2.1 <bob@example.net>... User Unknown")
        + _block("cat@example.net", "5.0.0", "554 Transaction failed")
    )
    parsed = parse_message(_dsn(POSTFIX_PROSE, blocks))
    assert [f.smtp_command for f in parsed.failures] == ["RCPT", "DATA", "MAIL"]
    results = [cf.classification for cf in classify_message(parsed, ClassifyConfig())]
    # RCPT: an unknown mailbox; after DATA the same words are a filter's; at MAIL FROM our sender.
    assert [(r.reason, r.kind) for r in results] == [
        (Reason.USERUNKNOWN, BounceKind.HARD),
        (Reason.FILTERED, BounceKind.HARD),
        (Reason.REJECTED, BounceKind.BLOCKED),
    ]


def test_exim_after_ehlo_is_a_helo_refusal() -> None:
    prose = (
        "A message that you sent could not be delivered to one or more of its\r\n"
        "recipients. This is a permanent error. The following address(es) failed:\r\n"
        "\r\n"
        "  dan@example.org\r\n"
        "    host mx.example.org [192.0.2.9]\r\n"
        "    SMTP error from remote mail server after EHLO mx.sender.example:\r\n"
        "    550 Rejected\r\n"
    )
    parsed = parse_message(_dsn(prose, _block("dan@example.org", "5.0.0", "550 Rejected")))
    [f] = parsed.failures
    assert f.smtp_command == "HELO"
    [cf] = classify_message(parsed, ClassifyConfig())
    assert (cf.classification.reason, cf.classification.kind) == (Reason.BLOCKED, BounceKind.BLOCKED)


@pytest.mark.parametrize(
    ("prose", "command"),
    [
        # Exim 2-3: "remote mailer"; Exim 4.9x: "pipelined"; X6 and IMail's own wordings.
        (
            "  hal@example.org:\r\n    SMTP error from remote mailer after RCPT TO:\r\n"
            "    <hal@example.org>:\r\n    550 5.2.1 User unknown\r\n",
            "RCPT",
        ),
        (
            "  hal@example.org\r\n    SMTP error from remote mail server after pipelined\r\n"
            "    end of data:\r\n    550 5.2.1 User unknown\r\n",
            "DATA",
        ),
        ("SMTP Server <mx> rejected recipient <hal@example.org> (Error following RCPT command).\r\n", "RCPT"),
        (
            "Unknown user: hal@example.org\r\nRCPT TO generated following response:\r\n"
            "550 5.2.1 User unknown\r\n",
            "RCPT",
        ),
    ],
)
def test_older_exim_x6_and_imail_wordings_name_the_stage(prose: str, command: str) -> None:
    parsed = parse_message(_dsn(prose, _block("hal@example.org", "5.2.1", "550 5.2.1 User unknown")))
    assert [f.smtp_command for f in parsed.failures] == [command]


def test_sendmail_transcript_rcpt_line_and_greeting_refusal() -> None:
    rcpt = (
        "   ----- Transcript of session follows -----\r\n"
        "... while talking to mx.example.com.:\r\n"
        ">>> RCPT To:<eve@example.com>\r\n"
        "<<< 550 5.7.1 <eve@example.com>... User unknown\r\n"
    )
    parsed = parse_message(_dsn(rcpt, _block("eve@example.com", "5.7.1", "550 5.7.1 User unknown")))
    assert [f.smtp_command for f in parsed.failures] == ["RCPT"]
    greeting = (
        "   ----- Transcript of session follows -----\r\n"
        "... while talking to mx.example.com.:\r\n"
        "<<< 554 IP=192.0.2.1 - A problem occurred.\r\n"
        "554 5.0.0 Service unavailable\r\n"
    )
    parsed = parse_message(_dsn(greeting, _block("fay@example.com", "5.5.0", "554 A problem occurred.")))
    assert [f.smtp_command for f in parsed.failures] == ["CONN"]
    [cf] = classify_message(parsed, ClassifyConfig())
    assert cf.classification.kind is BounceKind.BLOCKED  # nobody's address was ever named


def test_no_stage_without_evidence() -> None:
    prose = "Your message could not be delivered.\r\n\r\n<gil@example.net>: 550 5.1.1 User unknown\r\n"
    parsed = parse_message(_dsn(prose, _block("gil@example.net", "5.1.1", "550 5.1.1 User unknown")))
    assert [f.smtp_command for f in parsed.failures] == [None]


def test_a_transcript_rcpt_for_another_address_says_nothing_about_this_one() -> None:
    prose = (
        "... while talking to mx.example.com.:\r\n>>> RCPT To:<other@example.com>\r\n<<< 550 User unknown\r\n"
    )
    parsed = parse_message(_dsn(prose, _block("hal@example.com", "5.0.0", "550 User unknown")))
    assert [f.smtp_command for f in parsed.failures] == [None]


def test_status_comment_is_the_diagnostic_when_there_is_none() -> None:
    # RFC 3464's own example: the Status comment is all the report says.
    parsed = parse_message(
        _dsn(
            "Delivery problems.\r\n",
            _block("ivy@cat.example", "4.0.0 (cat.example: host name lookup failure)", None),
        )
    )
    [f] = parsed.failures
    assert f.diagnostic == "cat.example: host name lookup failure"
    [cf] = classify_message(parsed, ClassifyConfig())
    assert cf.classification.reason is Reason.NETWORKERROR
    # A comment that only restates the code adds nothing.
    parsed = parse_message(
        _dsn("Delivery problems.\r\n", _block("jo@example.net", "5.0.0 (permanent failure)", None))
    )
    assert parsed.failures[0].diagnostic != "permanent failure"


def test_prose_words_stop_at_the_next_recipient() -> None:
    # DSN fields without Diagnostic-Code: each recipient's words come from the prose, and one
    # recipient's line must not run into the next one's (that made a full mailbox of an unknown user).
    prose = (
        "An error has occurred while attempting to deliver a message for\r\n"
        "the following list of recipients:\r\n"
        "\r\n"
        "kim@example.net: 550 5.1.1 <kim@example.net>: Recipient address rejected: User unknown\r\n"
        "lee@example.net: 552 5.2.2 <lee@example.net>: Recipient address rejected: Mailbox full\r\n"
    )
    parsed = parse_message(
        _dsn(prose, _block("kim@example.net", "5.0.0", None) + _block("lee@example.net", "5.0.0", None))
    )
    kim, lee = parsed.failures
    assert kim.diagnostic == "550 5.1.1 <kim@example.net>: Recipient address rejected: User unknown"
    assert lee.diagnostic.startswith("552 5.2.2")
    reasons = [cf.classification.reason for cf in classify_message(parsed, ClassifyConfig())]
    assert reasons == [Reason.USERUNKNOWN, Reason.MAILBOXFULL]
