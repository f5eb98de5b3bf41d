"""Structure over phrases: complaints never lost, SES read as JSON, only valid recipients,
caps that say they cut."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from bounced.model import Action, MessageType
from bounced.parse import parse_message
from bounced.parse.address import REDACTED_RECIPIENT, drop_glued_copies, is_redacted, valid_recipient
from bounced.parse.mime import MAX_PARSE_BYTES
from bounced.parse.scan import MAX_FAILURES

# --- ARF --------------------------------------------------------------------------------


def test_arf_with_a_redacted_recipient_keeps_it_and_says_so(fixture_bytes: Callable[[str], bytes]) -> None:
    raw = fixture_bytes("arf.eml").replace(b"<ivan@isp.example>", b"<redacted@isp.example>")
    raw = raw.replace(b"To: ivan@isp.example", b"To: redacted@isp.example")
    [f] = parse_message(raw).failures
    assert (f.recipient, f.recipient_redacted) == ("redacted@isp.example", True)


def test_arf_recipient_from_the_returned_message_when_the_report_has_none(
    fixture_bytes: Callable[[str], bytes],
) -> None:
    raw = fixture_bytes("arf.eml").replace(b"Original-Rcpt-To: <ivan@isp.example>\n", b"")
    parsed = parse_message(raw)
    assert parsed.message_type is MessageType.ARF
    assert [(f.recipient, f.recipient_redacted) for f in parsed.failures] == [("ivan@isp.example", False)]


def test_arf_opt_out_report_names_the_removal_recipient(fixture_bytes: Callable[[str], bytes]) -> None:
    raw = fixture_bytes("arf.eml").replace(b"Feedback-Type: abuse", b"Feedback-Type: opt-out")
    raw = raw.replace(b"Original-Rcpt-To: <ivan@isp.example>", b"Removal-Recipient: ivan@isp.example")
    raw = raw.replace(b"To: ivan@isp.example\n", b"To: <Undisclosed Recipients>\n")
    [f] = parse_message(raw).failures
    assert (f.recipient, f.feedback_type, f.recipient_redacted) == ("ivan@isp.example", "opt-out", False)


def test_feedback_report_part_labelled_text_plain_is_still_a_report(
    fixture_bytes: Callable[[str], bytes],
) -> None:
    # RFC 5965 3: the second part of a multipart/report; report-type=feedback-report.
    raw = fixture_bytes("arf.eml").replace(
        b"Content-Type: message/feedback-report", b"Content-Type: text/plain"
    )
    parsed = parse_message(raw)
    assert parsed.message_type is MessageType.ARF
    assert [f.recipient for f in parsed.failures] == ["ivan@isp.example"]


def test_arf_with_no_report_recipient_and_no_returned_message_is_kept(
    fixture_bytes: Callable[[str], bytes],
) -> None:
    raw = fixture_bytes("arf.eml").replace(b"Original-Rcpt-To: <ivan@isp.example>\n", b"")
    raw = raw.split(b"--fbl_boundary_1\nContent-Type: message/rfc822")[0] + b"--fbl_boundary_1--\n"
    [f] = parse_message(raw).failures
    assert (f.recipient, f.recipient_redacted, f.reason_hint) == (REDACTED_RECIPIENT, True, "feedback")


# --- Amazon SES JSON --------------------------------------------------------------------

_MAIL = {
    "timestamp": "2026-03-10T10:00:00.000Z",
    "source": "news@sender.example",
    "sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/news@sender.example",
    "destination": ["ivan@isp.example"],
}
_FOOTER = (
    "\n\n--\nIf you wish to stop receiving notifications from this topic, please click or visit the "
    "link below to unsubscribe:\nhttps://sns.us-east-1.amazonaws.com/unsubscribe.html?SubscriptionArn="
    "arn:aws:sns:us-east-1:123456789012:bounces:abc&Endpoint=ops@sender.example\n"
)


def _ses_mail(body: str) -> bytes:
    head = (
        "From: AWS Notifications <no-reply@sns.amazonaws.com>\nTo: ops@sender.example\n"
        "Subject: AWS Notification Message\nContent-Type: text/plain; charset=UTF-8\n\n"
    )
    return (head + body).encode()


def _notification(kind: str) -> dict[str, object]:
    if kind == "Bounce":
        detail: dict[str, object] = {
            "bounceType": "Permanent",
            "bouncedRecipients": [
                {
                    "emailAddress": "ivan@isp.example",
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                }
            ],
            "reportingMTA": "dns; a1-2.smtp-out.amazonses.com",
        }
        return {"notificationType": "Bounce", "bounce": detail, "mail": _MAIL}
    if kind == "Complaint":
        detail = {
            "complainedRecipients": [{"emailAddress": "ivan@isp.example"}],
            "complaintFeedbackType": "abuse",
        }
        return {"notificationType": "Complaint", "complaint": detail, "mail": _MAIL}
    detail = {
        "recipients": ["ivan@isp.example"],
        "smtpResponse": "250 2.6.0 ok",
        "reportingMTA": "a1.example",
    }
    return {"notificationType": "Delivery", "delivery": detail, "mail": _MAIL}


@pytest.mark.parametrize("wrapped", [False, True], ids=["bare", "sns-envelope"])
@pytest.mark.parametrize(
    ("kind", "message_type", "action"),
    [
        ("Bounce", MessageType.DSN, Action.FAILED),
        ("Complaint", MessageType.ARF, Action.FAILED),
        ("Delivery", MessageType.DSN, Action.DELIVERED),
    ],
)
def test_ses_notifications_are_read_as_json(
    kind: str, message_type: MessageType, action: Action, wrapped: bool
) -> None:
    doc = _notification(kind)
    if wrapped:
        doc = {"Type": "Notification", "MessageId": "x", "Message": json.dumps(doc)}
    parsed = parse_message(_ses_mail(json.dumps(doc) + _FOOTER))
    assert parsed.message_type is message_type
    assert [(f.recipient, f.action) for f in parsed.failures] == [("ivan@isp.example", action)]


def test_ses_json_with_a_wrapped_line_is_rejoined_not_scanned() -> None:
    text = json.dumps(_notification("Bounce"))
    wrapped = "\n".join(text[i : i + 76] for i in range(0, len(text), 76))
    parsed = parse_message(_ses_mail(wrapped + _FOOTER))
    assert [f.recipient for f in parsed.failures] == ["ivan@isp.example"]
    assert parsed.failures[0].status == "5.1.1"


def test_broken_ses_json_never_yields_arns_or_url_parameters() -> None:
    text = json.dumps(_notification("Complaint"))[:-40]  # cut: not JSON any more
    parsed = parse_message(_ses_mail(text + _FOOTER))
    assert [f.recipient for f in parsed.failures] == ["ivan@isp.example"]
    assert parsed.message_type is MessageType.ARF


def test_other_sns_notifications_name_no_recipient() -> None:
    doc = {"notificationType": "AmazonSnsSubscriptionSucceeded", "message": "ok", "mail": _MAIL}
    parsed = parse_message(_ses_mail(json.dumps(doc) + _FOOTER))
    assert (parsed.message_type, parsed.failures) == (MessageType.NONE, ())


# --- the one recipient check ------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "a@example.org",
        "first.last+tag@sub.example.co.uk",
        '"a b"@example.org',
        "ü@bücher.example",
        "a@[192.0.2.1]",
    ],
)
def test_valid_recipients(address: str) -> None:
    assert valid_recipient(address) == address
    assert valid_recipient(f"<{address}>") == address


@pytest.mark.parametrize(
    "address",
    [
        '"emailAddress":"x@example.org',
        "a@example",
        "a@192.0.2.1",
        "a..b@example.org",
        "a@-x.example",
        "a@x.org.",
        "@x.org",
        "x" * 65 + "@example.org",
    ],
)
def test_invalid_recipients(address: str) -> None:
    assert valid_recipient(address) is None


def test_glued_copies_are_dropped_but_similar_addresses_kept() -> None:
    found = [
        "rcpt=ann@example.org",
        "ann@example.org",
        "joann@example.org",
        "550ann@example.org",
        "identity/ann@example.org",
    ]
    assert drop_glued_copies(found) == {
        "rcpt=ann@example.org",
        "550ann@example.org",
        "identity/ann@example.org",
    }


def test_redacted_placeholders() -> None:
    assert (
        is_redacted("redacted@example.net") and is_redacted("xxxxx@example.net") and is_redacted("***@x.org")
    )
    assert not is_redacted("rex@example.net")


def test_prose_recipient_glued_to_text_is_not_emitted_twice() -> None:
    raw = (
        b"From: MAILER-DAEMON@mx.example\nTo: b@sender.example\n"
        b"Subject: Undelivered Mail Returned to Sender\n\n"
        b"I'm sorry to have to inform you that your message could not be delivered.\n\n"
        b"<ivan@isp.example>: host mx.isp.example said: 550 5.1.1 unknown user rcpt=ivan@isp.example\n"
    )
    assert [f.recipient for f in parse_message(raw).failures] == ["ivan@isp.example"]


# --- caps that say they cut -------------------------------------------------------------


def _dsn(recipients: int, header_padding: bytes = b"") -> bytes:
    fields = b"".join(
        b"\nFinal-Recipient: rfc822; u%d@isp.example\nAction: failed\nStatus: 5.1.1\n" % i
        for i in range(recipients)
    )
    return (
        b"From: MAILER-DAEMON@mx.example\nTo: b@sender.example\nSubject: failure\n" + header_padding
        + b"MIME-Version: 1.0\n"
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n"
        b"--B\nContent-Type: text/plain\n\nDelivery failed.\n\n"
        b"--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example\n" + fields
        + b"\n--B--\n"
    )  # fmt: skip


def test_a_small_message_is_not_marked_truncated() -> None:
    parsed = parse_message(_dsn(3))
    assert (len(parsed.failures), parsed.truncated) == (3, ())


def test_ten_thousand_recipients_are_capped_and_flagged() -> None:
    parsed = parse_message(_dsn(10_000))
    assert len(parsed.failures) == MAX_FAILURES
    assert parsed.truncated == ("max_failures",)


def test_a_dsn_behind_five_megabytes_of_headers_still_parses() -> None:
    padding = b"".join(b"X-Padding-%d: %s\n" % (i, b"p" * 990) for i in range(5_000))
    raw = _dsn(2, padding)
    assert len(raw) > 5 * MAX_PARSE_BYTES
    parsed = parse_message(raw)
    assert parsed.message_type is MessageType.DSN
    assert [f.recipient for f in parsed.failures] == ["u0@isp.example", "u1@isp.example"]
    assert parsed.truncated == ("max_parse_bytes",)


def test_a_report_behind_a_huge_first_part_still_parses() -> None:
    raw = _dsn(1).replace(b"Delivery failed.\n", b"Delivery failed.\n" + b"filler line\n" * 200_000)
    parsed = parse_message(raw)
    assert [f.recipient for f in parsed.failures] == ["u0@isp.example"]
    assert parsed.truncated == ("max_parse_bytes",)


def test_echoed_headers_of_the_returned_message_are_not_recipients() -> None:
    # Exchange / GroupWise: "Your message\n\n  To: <the list>\n ... did not reach ...".
    raw = (
        b"From: System Administrator <postmaster@mx.example>\nTo: b@sender.example\n"
        b"Subject: Undeliverable: news\n\nYour message\n\n  To:      list@lists.sender.example\n"
        b"  Subject: news\n  Sent:    Fri, 4 Oct 2002 17:10:56 -0400\n\n"
        b"did not reach the following recipient(s):\n\n"
        b"c=US;a= ;p=ORG;o=Hub;dda:SMTP=ivan@isp.example; on Fri, 4 Oct 2002\n"
        b"    The recipient name is not recognized\n"
    )
    assert [f.recipient for f in parse_message(raw).failures] == ["ivan@isp.example"]


@pytest.mark.parametrize(
    ("prose", "recipients"),
    [
        # A role address named as a contact beside a recipient is advice, not a recipient ...
        (
            b"Your message to ivan@isp.example could not be delivered: user unknown.\n"
            b"Please contact Postmaster@isp.example if you have any questions.\n",
            ["ivan@isp.example"],
        ),
        # ... but a bounce about the postmaster itself still names it.
        (
            b"<postmaster@isp.example>: host mx.isp.example said: 550 5.1.1 unknown user\n",
            ["postmaster@isp.example"],
        ),
    ],
)
def test_role_addresses_in_prose(prose: bytes, recipients: list[str]) -> None:
    head = b"From: MAILER-DAEMON@mx.example\nTo: b@sender.example\nSubject: Returned mail\n\n"
    assert [f.recipient for f in parse_message(head + prose).failures] == recipients


def test_each_recipient_takes_the_reply_its_own_rcpt_to_drew() -> None:
    raw = (
        b"From: MAILER-DAEMON@mx.example\nTo: b@sender.example\nSubject: Returned mail\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="S"\n\n'
        b"--S\nContent-Type: text/plain\n\n   ----- Transcript of session follows -----\n"
        b"... while talking to mx.isp.example.:\n>>> MAIL From:<b@sender.example>\n<<< 250 ok\n"
        b">>> RCPT To:<ann@isp.example>\n<<< 452 4.2.2 Mailbox full\n"
        b">>> RCPT To:<bob@isp.example>\n<<< 550 5.1.1 User unknown\n\n"
        b"--S\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example\n\n"
        b"Final-Recipient: RFC822; ann@isp.example\nAction: delayed\nStatus: 4.2.2\n"
        b"Diagnostic-Code: SMTP; Mailbox full\n\n"
        b"Final-Recipient: RFC822; bob@isp.example\nAction: failed\nStatus: 5.1.1\n"
        b"Diagnostic-Code: SMTP; User unknown\n\n--S--\n"
    )
    got = [(f.recipient, f.reply_code) for f in parse_message(raw).failures]
    assert got == [("ann@isp.example", 452), ("bob@isp.example", 550)]


# --- a reply code belongs to the recipient whose words carry it ----------------------------

_PROSE_HEAD = b"From: MAILER-DAEMON@mx.example\nTo: b@sender.example\nSubject: Returned mail\n\n"


def test_a_recipient_without_codes_never_takes_its_neighbours() -> None:
    # qmail, Exim and list managers: one paragraph per recipient; b's says no code.
    prose = (
        b"I wasn't able to deliver your message to the following addresses.\n\n"
        b"<ann@isp.example>:\n550 5.1.1 user unknown\n\n"
        b"<bob@isp.example>:\nmailbox temporarily disabled\n"
    )
    got = [(f.recipient, f.reply_code, f.status) for f in parse_message(_PROSE_HEAD + prose).failures]
    assert got == [("ann@isp.example", 550, "5.1.1"), ("bob@isp.example", None, None)]


def test_codes_of_a_shared_transcript_go_to_every_recipient_without_its_own() -> None:
    # Sendmail: the list of addresses, then one transcript that answers them all.
    prose = (
        b"   ----- The following addresses had permanent fatal errors -----\n"
        b"ann@isp.example\nbob@isp.example\n\n"
        b"   ----- Transcript of session follows -----\n554 5.4.6 Too many hops\n"
    )
    got = [(f.recipient, f.reply_code) for f in parse_message(_PROSE_HEAD + prose).failures]
    assert got == [("ann@isp.example", 554), ("bob@isp.example", 554)]


def test_prose_recipients_take_the_reply_to_their_own_rcpt_to() -> None:
    prose = (
        b"   ----- The following addresses had permanent fatal errors -----\n"
        b"<ann@isp.example>\n<bob@isp.example>\n\n"
        b"   ----- Transcript of session follows -----\n"
        b">>> RCPT To:<ann@isp.example>\n<<< 452 4.2.2 Mailbox full\n"
        b">>> RCPT To:<bob@isp.example>\n<<< 550 5.1.1 User unknown\n"
    )
    got = [(f.recipient, f.reply_code, f.status) for f in parse_message(_PROSE_HEAD + prose).failures]
    assert got == [("ann@isp.example", 452, "4.2.2"), ("bob@isp.example", 550, "5.1.1")]


# --- structural robustness ----------------------------------------------------------------


@pytest.mark.parametrize("prefix", [b"\n", b"\r\n\r\n", b" \t\n\n", b"\xef\xbb\xbf", b"\xef\xbb\xbf\r\n"])
@pytest.mark.parametrize("name", ["rfc3464.eml", "arf.eml", "exim.eml", "sendmail.eml", "gmail.eml"])
def test_blank_lines_before_the_header_change_nothing(
    fixture_bytes: Callable[[str], bytes], name: str, prefix: bytes
) -> None:
    raw = fixture_bytes(name)
    assert parse_message(prefix + raw) == parse_message(raw)
