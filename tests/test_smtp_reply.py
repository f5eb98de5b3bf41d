"""The one reading of SMTP replies (`bounced.smtp_reply`): one table per fact, each row the
text as a bounce writes it (raw, and as the classifier sees it: lower-cased, collapsed)."""

from __future__ import annotations

import pytest

from bounced.classify.reasons import normalise_text
from bounced.smtp_reply import find_reply_code, find_status, leading_reply, normalise_status, smtp_command

STATUS = [
    ("550 5.1.1 <a@b.example>: User unknown", "5.1.1"),
    ("smtp; 421 4.7.0 Try again", "4.7.0"),
    ("host 10.5.1.1 said: 550 no such user", None),  # an IP address is not a status code
    ("Remote host said: 552 #5.2.2 mailbox full", "5.2.2"),
    ("version 1.2.3.4 failed", None),
    ("version 1.2.3 of something", None),  # class digit must be 2, 4 or 5
    ("RESOLVER.ADR.RecipientNotFound 550 5.1.10", "5.1.10"),
    ("Unable to contact LDAP server. (#4.4.3)", "4.4.3"),
    ("RFC 2821 4.1.1.1 says", None),  # a section number
    ("5.9.1 is no subject", None),
    ("nothing", None),
]
REPLY = [
    ("550 5.1.1 <a@b.example>: User unknown", 550),
    ("host mx[192.0.2.1] said: 450 4.2.0 Greylisted", 450),
    ("host mx.example.com [192.0.2.1] said: 452 4.2.2 Mailbox full", 452),
    ("said: 550-5.1.1 The email account", 550),
    ("550-5.7.1 [192.0.2.1] Our system has detected", 550),
    ("Remote host said: 554 delivery error", 554),
    ("Remote host said: 554 INVALID IP", 554),
    ("ERROR_CODE :550, ERROR_CODE :5.2.1", 550),
    ("Connection timed out after 451 seconds", None),
    ("Greylisted for 250 seconds", None),  # a number of seconds is not a reply
    ("exceeded 500 recipients", None),
    ("port 2525 refused", None),
    ("no codes at all", None),
    # Google's resolver error numbers: digits inside a word-number, near the start.
    ("DNS Error: 80335577 DNS type 'mx' lookup of example.jp responded with code NXDOMAIN", None),
    ('Error-Text: Mailer mx.example.com said:\n            "554 Message looping"', 554),
    # Sendmail's own code, then the remote server's reply after "<address>...".
    ("554 <a@b.example>... 550 Host unknown (Authoritative answer from name server)", 550),
    ("554 <a@b.example>... Remote protocol error 421 b.example (smtp)", 554),
]
NORMALISED = [
    ("5.1.1", "5.1.1"),
    (" 4.2.2 ", "4.2.2"),
    ("#5.1.1", "5.1.1"),
    ("5.7.606", "5.7.606"),
    ("5.01.001", "5.1.1"),
    ("2.0.0", "2.0.0"),
    ("", None),
    (None, None),
    ("550", None),
    ("6.1.1", None),
]
COMMAND = [
    ("550 5.1.1 <a@example.net>: Recipient address rejected (in reply to RCPT TO command)", "RCPT"),
    ("550 5.1.1 user unknown (in reply to end of DATA command)", "DATA"),
    ("SMTP error from remote mail server after MAIL FROM:<b@example.org>: 550 rejected", "MAIL"),
    ("SMTP error from remote mail server after initial connection: 554 go away", "CONN"),
    ("Connected to 192.0.2.1 but sender was rejected. Remote host said: 550 no", "MAIL"),
    ("Connected to 192.0.2.1 but my name was rejected. Remote host said: 501 bad", "HELO"),
    ("mx.example.net [192.0.2.1] did not like our RCPT TO: 550 no such user", "RCPT"),
    (
        "Sorry, no SMTP connection got far enough; most progress was RCPT TO response; "
        "remote host 192.0.2.3 said: 550 Unknown user",
        "RCPT",
    ),
    ("Technical details: SMTP:RCPT host 192.0.2.8: 553 5.3.0 No such user here", "RCPT"),
    ("Technical details: SMTP:MAIL host 192.0.2.8: 553 sender refused", "MAIL"),
    ("Sorry, no SMTP connection got far enough; most progress was MAIL FROM response", "MAIL"),
    ("550 5.1.1 user unknown", None),
    ("250 ESMTP:DATA accepted", None),  # not a word of its own
]
LEADING = [
    ("550 5.1.1 user unknown", ("550", "5.1.1", 9)),
    ("550-5.7.1 blocked", ("550", "5.7.1", 9)),
    ("421 try later", ("421", None, 3)),
    ("5501 no", None),
    ("user unknown 550", None),
]


@pytest.mark.parametrize(("text", "status"), STATUS)
def test_find_status(text: str, status: str | None) -> None:
    assert (find_status(text), find_status(normalise_text(text))) == (status, status)


@pytest.mark.parametrize(("text", "code"), REPLY)
def test_find_reply_code(text: str, code: int | None) -> None:
    assert (find_reply_code(text), find_reply_code(normalise_text(text))) == (code, code)


@pytest.mark.parametrize(("raw", "expected"), NORMALISED)
def test_normalise_status(raw: str | None, expected: str | None) -> None:
    assert normalise_status(raw) == expected


@pytest.mark.parametrize(("text", "command"), COMMAND)
def test_smtp_command(text: str, command: str | None) -> None:
    assert smtp_command(normalise_text(text)) == command


@pytest.mark.parametrize(("text", "lead"), LEADING)
def test_leading_reply(text: str, lead: tuple[str, str | None, int] | None) -> None:
    assert leading_reply(text) == lead
