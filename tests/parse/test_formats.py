"""One realistic bounce per layout family: every Failure field the classifier relies on."""

from __future__ import annotations

from collections.abc import Callable

from bounced.model import Action, MessageType, ParsedMessage
from bounced.parse import parse_message
from bounced.parse.address import REDACTED_RECIPIENT

Parse = Callable[[str], ParsedMessage]


def test_rfc3464_dsn_two_recipients_and_original(parse_fixture: Parse) -> None:
    parsed = parse_fixture("rfc3464.eml")
    assert parsed.message_type is MessageType.DSN
    assert [f.recipient for f in parsed.failures] == ["alice@example.net", "bob@example.net"]
    alice, bob = parsed.failures
    assert (alice.action, alice.status, alice.reply_code) == (Action.FAILED, "5.1.1", 550)
    assert alice.diagnostic == (
        "550 5.1.1 <alice@example.net>: Recipient address rejected: User unknown in virtual mailbox table"
    )
    assert alice.remote_mta == "mail.example.net"
    assert (bob.status, bob.reply_code, bob.diagnostic) == (
        "5.2.2",
        552,
        "552 5.2.2 <bob@example.net>: Mailbox full",
    )
    original = parsed.original
    assert original.message_id == "<m-1001.alice@sender.example>"
    assert original.mailing_id == "spring-2026"
    assert original.from_address == "news@sender.example"
    assert original.return_path == "b-3f9a2c.alice=example.net@bounces.sender.example"
    assert original.to_address == "alice@example.net"
    assert parsed.envelope_to == ("b-3f9a2c.alice=example.net@bounces.sender.example",)
    assert parsed.subject == "Undelivered Mail Returned to Sender"


def test_postfix_delay_notice_is_delayed_with_headers_only_original(parse_fixture: Parse) -> None:
    parsed = parse_fixture("postfix_delayed.eml")
    [f] = parsed.failures
    assert (f.recipient, f.action, f.status, f.reply_code) == (
        "carol@example.org",
        Action.DELAYED,
        "4.4.1",
        None,
    )
    assert f.diagnostic == "connect to mx.example.org[192.0.2.55]:25: Connection timed out"
    assert parsed.original.mailing_id == "digest-w10"
    assert parsed.original.message_id == "<digest-77@sender.example>"
    assert parsed.original.return_path == "news@sender.example"


def test_exim_prose_with_inline_copy(parse_fixture: Parse) -> None:
    parsed = parse_fixture("exim.eml")
    assert parsed.message_type is MessageType.DSN
    [f] = parsed.failures
    assert (f.recipient, f.action, f.status, f.reply_code) == (
        "dave@example.com",
        Action.FAILED,
        "5.1.1",
        550,
    )
    assert "SMTP error from remote mail server after RCPT TO" in f.diagnostic
    assert f.diagnostic.endswith("Recipient address rejected: User unknown")
    assert parsed.original.mailing_id == "welcome-series"
    assert parsed.original.message_id == "<hello-dave-1@sender.example>"
    assert parsed.original.return_path == "news@sender.example"


def test_qmail_prose(parse_fixture: Parse) -> None:
    parsed = parse_fixture("qmail.eml")
    [f] = parsed.failures
    assert (f.recipient, f.status, f.reply_code) == ("erin@example.info", "5.7.1", 550)
    assert "Relay access denied" in f.diagnostic
    assert parsed.original.message_id == "<news-erin@sender.example>"


def test_sendmail_prose_with_transcript(parse_fixture: Parse) -> None:
    parsed = parse_fixture("sendmail.eml")
    [f] = parsed.failures
    assert (f.recipient, f.status, f.reply_code) == ("kenji@example.jp", "5.1.1", 550)
    assert "User Unknown" in f.diagnostic
    assert parsed.original.message_id == "<hi-kenji@sender.example>"


def test_office365_report_with_alternative_and_qp(parse_fixture: Parse) -> None:
    parsed = parse_fixture("office365.eml")
    [f] = parsed.failures
    assert (f.recipient, f.status, f.reply_code) == ("frank@contoso.com", "5.1.10", 550)
    assert "RecipientNotFound" in f.diagnostic
    assert parsed.original.mailing_id == "spring-sale"


def test_gmail_dsn_with_base64_notice_and_encoded_words(parse_fixture: Parse) -> None:
    parsed = parse_fixture("gmail.eml")
    [f] = parsed.failures
    assert (f.recipient, f.status, f.reply_code) == ("grace@gmail.example", "5.1.1", 550)
    # The folded multi-line reply is unfolded into one line with single spaces.
    assert "\n" not in f.diagnostic and "  " not in f.diagnostic
    assert f.diagnostic.startswith("550-5.1.1 The email account that you tried to reach does not exist.")
    assert f.remote_mta == "gmail-smtp-in.l.google.com"
    assert parsed.original.from_address == "news@sender.example"
    assert parsed.original.mailing_id == "cafe-1"


def test_autoreply(parse_fixture: Parse) -> None:
    parsed = parse_fixture("autoreply.eml")
    assert parsed.message_type is MessageType.AUTOREPLY
    [f] = parsed.failures
    assert (f.recipient, f.reason_hint) == ("heidi@example.de", "vacation")
    assert f.diagnostic == "Abwesenheitsnotiz: Spring sale"
    assert parsed.original.message_id == "<sale-heidi@sender.example>"


def test_arf_feedback_report(parse_fixture: Parse) -> None:
    parsed = parse_fixture("arf.eml")
    assert parsed.message_type is MessageType.ARF
    [f] = parsed.failures
    assert (f.recipient, f.reason_hint, f.feedback_type) == ("ivan@isp.example", "feedback", "abuse")
    assert parsed.original.mailing_id == "deals-10"
    assert parsed.original.return_path == "b-77.ivan=isp.example@bounces.sender.example"


def test_ordinary_reply_is_not_a_bounce(parse_fixture: Parse) -> None:
    parsed = parse_fixture("nonbounce.eml")
    assert parsed.message_type is MessageType.NONE
    assert parsed.failures == ()


def test_vacation_mentioning_delivery_is_still_an_autoreply() -> None:
    raw = (
        b"From: Ann <ann@example.org>\nTo: news@sender.example\nSubject: Automatic reply: Delivery schedule\n"
        b"Auto-Submitted: auto-replied\n\n"
        b"I am away until Monday. For urgent matters write to bob@example.org.\n"
    )
    parsed = parse_message(raw)
    assert parsed.message_type is MessageType.AUTOREPLY
    assert [(f.recipient, f.reason_hint) for f in parsed.failures] == [("ann@example.org", "vacation")]


def test_bounce_flagged_auto_replied_is_not_a_vacation() -> None:
    raw = (
        b"From: Gateway <gw@relay.example>\nTo: news@sender.example\nSubject: Notice\n"
        b"Auto-Submitted: auto-replied\n"
        b"\nYour message could not be delivered to <zed@example.net>: 550 5.1.1 user unknown\n"
    )
    parsed = parse_message(raw)
    assert parsed.message_type is MessageType.DSN
    [f] = parsed.failures
    assert (f.recipient, f.reply_code, f.status, f.reason_hint) == ("zed@example.net", 550, "5.1.1", None)


def test_arf_without_a_recipient_is_still_a_complaint(fixture_bytes: Callable[[str], bytes]) -> None:
    raw = fixture_bytes("arf.eml").replace(b"Original-Rcpt-To: <ivan@isp.example>\n", b"")
    raw = raw.replace(b"To: ivan@isp.example\n", b"To: <Undisclosed Recipients>\n")
    parsed = parse_message(raw)
    assert parsed.message_type is MessageType.ARF
    # Never lost: one complaint with a placeholder that says the recipient is withheld.
    [f] = parsed.failures
    assert (f.recipient, f.recipient_redacted, f.reason_hint) == (REDACTED_RECIPIENT, True, "feedback")
    assert parsed.original.return_path == "b-77.ivan=isp.example@bounces.sender.example"


def test_rfc6533_global_dsn_about_an_internationalised_address(parse_fixture: Parse) -> None:
    """`Final-Recipient: utf-8; ...` in a message/global-delivery-status (RFC 6533)."""
    parsed = parse_fixture("rfc6533_global.eml")
    assert parsed.message_type is MessageType.DSN
    [f] = parsed.failures
    assert (f.recipient, f.action, f.status, f.reply_code) == ("jöhn.dœ@例え.jp", Action.FAILED, "5.1.1", 550)


def test_rfc6533_utf8_address_in_a_plain_dsn_is_unescaped() -> None:
    """In a message/delivery-status a utf-8 address writes non-ASCII as \\x{HEX}; an ASCII
    address typed utf-8 reads as it would typed rfc822."""
    head = (
        "From: MAILER-DAEMON@mx.example.jp\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nFailed.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.jp\r\n\r\n"
    )
    for field, recipient in [
        (r"utf-8; j\x{F6}hn@\x{4F8B}\x{3048}.jp", "jöhn@例え.jp"),
        ("UTF-8; <ascii.user@example.org>", "ascii.user@example.org"),
        (r"utf-8; broken\x{D800}@example.org", "broken\ufffd@example.org"),  # not a character
    ]:
        raw = head + f"Final-Recipient: {field}\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--b--\r\n"
        [f] = parse_message(raw.encode()).failures
        assert f.recipient == recipient


def test_a_dsn_field_address_the_prose_pattern_would_not_take() -> None:
    # Final-Recipient holds an address by definition (RFC 3464 2.3.2): a one-letter TLD, as
    # anonymised test mail writes them, is still the recipient (the prose scan never takes it).
    raw = (
        b"From: MAILER-DAEMON@a.b.c\r\nTo: bounces@sender.example\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nThe mail system\r\n"
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; a.b.c\r\n\r\n"
        b"Final-Recipient: rfc822; a@b.c\r\nAction: failed\r\nStatus: 5.0.0\r\n"
        b"Diagnostic-Code: smtp; 500 Mail appears to be unsolicited\r\n\r\n--b--\r\n"
    )
    parsed = parse_message(raw)
    assert parsed.message_type is MessageType.DSN
    assert [(f.recipient, f.reply_code) for f in parsed.failures] == [("a@b.c", 500)]
