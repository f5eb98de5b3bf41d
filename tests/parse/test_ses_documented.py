"""Amazon SES notifications in the shape AWS documents them.

The documents below were written for this test from the structure in the Amazon SES
Developer Guide ("Contents of notifications for Amazon SES" and "Examples of notifications
for Amazon SES": bounce with and without a DSN, complaint with and without a feedback
report, delivery; and the event-publishing form with `eventType`), not copied from a real
message. The `mail` object names more addresses than failed (`destination`, `headers`,
`commonHeaders`, the `sourceArn`): only the notification's own recipient fields count.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bounced.model import Action, MessageType
from bounced.parse import parse_message

_MAIL: dict[str, Any] = {
    "timestamp": "2016-01-27T14:59:38.237Z",
    "messageId": "0000014644fe5ef6-9a483358-9170-4cb4-a269-f5dcdf415321-000000",
    "source": "john@example.com",
    "sourceArn": "arn:aws:ses:us-east-1:888888888888:identity/john@example.com",
    "sourceIp": "127.0.3.0",
    "sendingAccountId": "123456789012",
    "callerIdentity": "IAM_user_or_role_name",
    "destination": ["jane@example.com", "mary@example.com", "richard@example.com"],
    "headersTruncated": False,
    "headers": [
        {"name": "From", "value": '"John Doe" <john@example.com>'},
        {"name": "To", "value": '"Jane Doe" <jane@example.com>, "Mary Doe" <mary@example.com>'},
        {"name": "Message-ID", "value": "custom-message-ID"},
        {"name": "Subject", "value": "Hello"},
    ],
    "commonHeaders": {
        "from": ["John Doe <john@example.com>"],
        "to": ["Jane Doe <jane@example.com>, Mary Doe <mary@example.com>, Richard Doe <richard@example.com>"],
        "messageId": "custom-message-ID",
        "subject": "Hello",
    },
}

_BOUNCE_WITH_DSN = {
    "notificationType": "Bounce",
    "bounce": {
        "bounceType": "Permanent",
        "reportingMTA": "dns; email.example.com",
        "bouncedRecipients": [
            {
                "emailAddress": "jane@example.com",
                "status": "5.1.1",
                "action": "failed",
                "diagnosticCode": "smtp; 550 5.1.1 <jane@example.com>... User unknown",
            }
        ],
        "bounceSubType": "General",
        "timestamp": "2016-01-27T14:59:38.237Z",
        "feedbackId": "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa068a-000000",
        "remoteMtaIp": "127.0.2.0",
    },
    "mail": _MAIL,
}
_BOUNCE_WITHOUT_DSN = {
    "notificationType": "Bounce",
    "bounce": {
        "bounceType": "Permanent",
        "bounceSubType": "Suppressed",
        "bouncedRecipients": [{"emailAddress": "jane@example.com"}, {"emailAddress": "richard@example.com"}],
        "timestamp": "2016-01-27T14:59:38.237Z",
        "feedbackId": "00000137860315fd-869464a4-8680-4114-98d3-716fe35851f9-000000",
    },
    "mail": _MAIL,
}
_TRANSIENT = {
    "notificationType": "Bounce",
    "bounce": {
        "bounceType": "Transient",
        "bounceSubType": "MailboxFull",
        "bouncedRecipients": [
            {
                "emailAddress": "mary@example.com",
                "status": "4.2.2",
                "action": "delayed",
                "diagnosticCode": "smtp; 452 4.2.2 Mailbox full",
            }
        ],
        "timestamp": "2016-01-27T14:59:38.237Z",
        "feedbackId": "00000137860315fd-34208509-5b74-41f3-95c5-22c1edc3c924-000000",
    },
    "mail": _MAIL,
}
_COMPLAINT_WITH_REPORT = {
    "notificationType": "Complaint",
    "complaint": {
        "userAgent": "AnyCompany Feedback Loop (V0.01)",
        "complainedRecipients": [{"emailAddress": "richard@example.com"}],
        "complaintFeedbackType": "abuse",
        "arrivalDate": "2016-01-27T14:59:38.237Z",
        "timestamp": "2016-01-27T14:59:38.237Z",
        "feedbackId": "000001378603177f-18c07c78-fa81-4a58-9dd1-fedc3cb8f49a-000000",
    },
    "mail": _MAIL,
}
_COMPLAINT_WITHOUT_REPORT = {
    "notificationType": "Complaint",
    "complaint": {
        "complainedRecipients": [{"emailAddress": "richard@example.com"}],
        "timestamp": "2016-01-27T14:59:38.237Z",
        "feedbackId": "0000013786031775-fea503bc-7497-49e1-881b-a0379bb037d3-000000",
    },
    "mail": _MAIL,
}
_DELIVERY = {
    "notificationType": "Delivery",
    "mail": _MAIL,
    "delivery": {
        "timestamp": "2016-01-27T14:59:38.237Z",
        "recipients": ["jane@example.com"],
        "processingTimeMillis": 546,
        "reportingMTA": "a8-70.smtp-out.amazonses.com",
        "smtpResponse": "250 ok:  Message 64111812 accepted",
        "remoteMtaIp": "127.0.2.0",
    },
}


def _as_mail(doc: dict[str, Any], sns: bool, event: bool) -> bytes:
    if event:  # configuration-set event publishing names the type `eventType`
        doc = dict(doc)
        doc["eventType"] = doc.pop("notificationType")
    body = json.dumps(doc, indent=None)
    if sns:  # an SNS email(-json) subscription: the SES document is a string in `Message`
        body = json.dumps(
            {
                "Type": "Notification",
                "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
                "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses-notifications",
                "Message": body,
                "Timestamp": "2016-01-27T14:59:38.237Z",
                "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe"
                "&SubscriptionArn=arn:aws:sns:us-east-1:123456789012:ses:x&Endpoint=ops@example.net",
            }
        )
    head = (
        "From: AWS Notifications <no-reply@sns.amazonaws.com>\nTo: ops@example.net\n"
        "Subject: AWS Notification Message\nContent-Type: text/plain; charset=UTF-8\n\n"
    )
    return (head + body + "\n").encode()


FORMS = pytest.mark.parametrize(
    ("sns", "event"),
    [(False, False), (True, False), (False, True), (True, True)],
    ids=["bare", "sns", "event", "sns-event"],
)


@FORMS
def test_bounce_with_dsn(sns: bool, event: bool) -> None:
    parsed = parse_message(_as_mail(_BOUNCE_WITH_DSN, sns, event))
    assert parsed.message_type is MessageType.DSN
    [f] = parsed.failures
    assert (f.recipient, f.action, f.status, f.reply_code, f.remote_mta) == (
        "jane@example.com",
        Action.FAILED,
        "5.1.1",
        550,
        "email.example.com",
    )
    assert "User unknown" in f.diagnostic


@FORMS
def test_bounce_without_dsn_names_only_the_bounced_recipients(sns: bool, event: bool) -> None:
    parsed = parse_message(_as_mail(_BOUNCE_WITHOUT_DSN, sns, event))
    assert [(f.recipient, f.action) for f in parsed.failures] == [
        ("jane@example.com", Action.FAILED),
        ("richard@example.com", Action.FAILED),
    ]


@FORMS
def test_transient_bounce_is_delayed(sns: bool, event: bool) -> None:
    [f] = parse_message(_as_mail(_TRANSIENT, sns, event)).failures
    assert (f.recipient, f.action, f.status, f.reply_code) == (
        "mary@example.com",
        Action.DELAYED,
        "4.2.2",
        452,
    )


@FORMS
@pytest.mark.parametrize(
    ("doc", "feedback_type"), [(_COMPLAINT_WITH_REPORT, "abuse"), (_COMPLAINT_WITHOUT_REPORT, "abuse")]
)
def test_complaint(doc: dict[str, Any], feedback_type: str, sns: bool, event: bool) -> None:
    parsed = parse_message(_as_mail(doc, sns, event))
    assert parsed.message_type is MessageType.ARF
    assert [(f.recipient, f.feedback_type, f.reason_hint) for f in parsed.failures] == [
        ("richard@example.com", feedback_type, "feedback")
    ]


@FORMS
def test_delivery(sns: bool, event: bool) -> None:
    parsed = parse_message(_as_mail(_DELIVERY, sns, event))
    [f] = parsed.failures
    assert (f.recipient, f.action, f.reply_code) == ("jane@example.com", Action.DELIVERED, 250)
