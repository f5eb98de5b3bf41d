"""Shapes of bounce prose met in other packages' sample bounces: a report that sums the message
up in header-like lines, a message its sender also addressed to themselves."""

from __future__ import annotations

from bounced.model import Action, MessageType
from bounced.parse import parse_message
from bounced.parse.original import split_at_original

# Exchange's Internet Mail Service wrote its report this way (no delivery-status part).
_EXCHANGE_SUMMARY = b"""\
From: System Administrator <postmaster@corp.example>
To: list-bounces@lists.example
Subject: Undeliverable: [Team] Release 2.0.12 is out
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain; charset="us-ascii"

Your message

  To:      team@lists.example
  Cc:      users@lists.example
  Subject: [Team] Release 2.0.12 is out
  Sent:    Thu, 11 Jul 2002 16:52:33 -0300

did not reach the following recipient(s):

carol@corp.example on Thu, 11 Jul 2002 16:54:54 -0300
    The recipient name is not recognized
    MSEXCH:IMS:CORP:SITE:SRV01 0 (000C05A6) Unknown Recipient

--b1
Content-Type: message/rfc822

Message removed
--b1--
"""


def test_a_summary_of_the_message_in_the_prose_is_not_the_returned_original() -> None:
    parsed = parse_message(_EXCHANGE_SUMMARY)
    assert parsed.message_type is MessageType.DSN
    [f] = parsed.failures
    assert (f.recipient, f.action) == ("carol@corp.example", Action.FAILED)
    assert f.status is None  # "2.0.12" of the quoted subject is a version, not a status


def test_header_lines_after_other_words_still_start_an_inline_original() -> None:
    text = "Delivery failed for bob@x.example.\n\nFrom: a@y.example\nTo: bob@x.example\nSubject: hi\n\nbody\n"
    human, tail = split_at_original(text)
    assert human == "Delivery failed for bob@x.example.\n\n"
    assert tail.startswith("From: a@y.example")


_NOTE_TO_SELF = b"""\
From: MAILER-DAEMON@mx.example (Mail Delivery System)
To: dave@mx.example
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b2"

--b2
Content-Type: text/plain

This is the mail system at host mx.example.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<erin@gone.example>: Name service error for domain gone.example: Host not
    found, try again

--b2
Content-Type: message/rfc822

From: erin@gone.example
To: erin@gone.example
Subject: testing

hello
--b2--
"""


def test_a_message_sent_to_its_own_sender_bounces_for_that_address() -> None:
    [f] = parse_message(_NOTE_TO_SELF).failures
    assert (f.recipient, f.action) == ("erin@gone.example", Action.FAILED)


def test_the_originals_sender_is_still_no_recipient_when_not_addressed() -> None:
    raw = _NOTE_TO_SELF.replace(b"To: erin@gone.example\n", b"To: frank@gone.example\n")
    raw = raw.replace(b"<erin@gone.example>:", b"<frank@gone.example>:")
    assert [f.recipient for f in parse_message(raw).failures] == ["frank@gone.example"]
