"""Recipient precision: what a bounce names that is not a failed recipient, by structure."""

from __future__ import annotations

import pytest

from bounced.parse import parse_message


def _recipients(raw: bytes) -> list[str]:
    return [f.recipient for f in parse_message(raw).failures]


def test_x_failed_recipients_is_read_as_a_field_not_searched_like_prose() -> None:
    # Exim's field holds the failed addresses, whatever their domain looks like; the
    # returned original's To (another address) must not replace one the field names.
    raw = (
        b"From: Mail Delivery System <Mailer-Daemon@mx.example>\nTo: b@sender.example\n"
        b"X-Failed-Recipients: ivan@host.x, <olga@isp.example>\nSubject: Mail delivery failed\n\n"
        b"A message that you sent could not be delivered to one or more of its recipients.\n\n"
        b"------ This is a copy of the message, including all the headers. ------\n\n"
        b"From: b@sender.example\nTo: someone@else.example\nSubject: hi\n\nhello\n"
    )
    assert _recipients(raw) == ["ivan@host.x", "olga@isp.example"]


@pytest.mark.parametrize(
    ("head", "prose", "recipients"),
    [
        # Mailman's bounce address: the list itself is the sender the prose quotes.
        (
            b"To: <news-bounces@lists.sender.example>\n",
            b"Your mail to the following recipients could not be delivered because they are\n"
            b"not accepting mail from news@lists.sender.example:\n\tivan@isp.example\n",
            ["ivan@isp.example"],
        ),
        # VERP-encoded member after the list's bounce address, and an owner- alias.
        (
            b"To: news-bounces+ivan=isp.example@lists.sender.example\n",
            b"<ivan@isp.example>: 550 5.1.1 user unknown\n"
            b"Questions to owner-news@lists.sender.example or news-request@lists.sender.example\n",
            ["ivan@isp.example"],
        ),
        # A list server's notice advertises its control address in RFC 2369 fields; the list
        # it refused the post for is what failed.
        (
            b"To: ivan@isp.example\nList-Subscribe: <mailto:news-ctl@sender.example?body=subscribe>\n"
            b"List-Help: <mailto:help@sender.example>\n",
            b"You are not a member of this mailing list <news@sender.example>.\n\n"
            b"Send the word guide to the address\n\n\tnews-ctl@sender.example\n\n"
            b"or write to help@sender.example.\n",
            ["news@sender.example"],
        ),
    ],
)
def test_a_lists_own_addresses_are_not_recipients(head: bytes, prose: bytes, recipients: list[str]) -> None:
    raw = b"From: MAILER-DAEMON@mx.example\n" + head + b"Subject: Undeliverable mail\n\n" + prose
    assert _recipients(raw) == recipients


def test_a_list_address_of_another_domain_stays_a_candidate() -> None:
    raw = (
        b"From: MAILER-DAEMON@mx.example\nTo: <news-bounces@lists.sender.example>\n"
        b"Subject: Undeliverable mail\n\n<news@isp.example>: 550 5.1.1 user unknown\n"
    )
    assert _recipients(raw) == ["news@isp.example"]


def test_the_bounces_own_sender_and_return_path_are_not_recipients() -> None:
    raw = (
        b"Return-Path: <relay-errors@sender.example>\nSender: forwarder@sender.example\n"
        b"From: MAILER-DAEMON@mx.example\nTo: b@sender.example\nSubject: Returned mail\n\n"
        b"Your message could not be delivered to ivan@isp.example: user unknown.\n"
        b"This notice was relayed by forwarder@sender.example for relay-errors@sender.example.\n"
    )
    assert _recipients(raw) == ["ivan@isp.example"]


_RETURNED = (
    b"\n\n----- Original message follows -----\n\n"
    b">Received: from relay.sender.example by mx.isp.example with ESMTP id Q1\n>\tfor <ivan@isp.example>;"
    b" Mon, 7 May 2001 10:00:00 -0700\n>From: b@sender.example\n>To: news@lists.sender.example\n"
    b">Subject: hi\n>\n>hello\n"
)


def test_addresses_beside_the_one_the_original_was_sent_to_are_advice() -> None:
    # A directory-lookup bounce: the site's address form and a directory entry are named too.
    raw = (
        b"From: postmaster@isp.example\nTo: b@sender.example\nSubject: FAILED MAIL to ivan\n\n"
        b"The standard form of address here is firstname.lastname@isp.example.\n"
        b"The address your message was sent to, ivan@isp.example, matched no one.\n\n"
        b"The directory may help you reach ivan:\n  Ivan Example   +1 555 0100   ivan.example@isp.example\n"
    )
    assert _recipients(raw + _RETURNED) == ["ivan@isp.example"]
    # Without the returned message nothing says which is which: all stay.
    assert len(_recipients(raw)) == 3


def test_recipients_with_their_own_codes_stay_beside_the_addressed_one() -> None:
    # Sendmail v5: the original was addressed to one, Bcc'd to others; each has its reply line.
    raw = (
        b"From: MAILER-DAEMON@mx.isp.example\nTo: b@sender.example\nSubject: Returned mail: User unknown\n\n"
        b"----- Transcript of session follows -----\n"
        b"550 <olga@isp.example>... User unknown\n"
        b"554 <petr@other.example>... 550 Host unknown\n"
        b"Please mail helpdesk@isp.example with questions.\n" + _RETURNED.replace(b"ivan@", b"olga@")
    )
    assert _recipients(raw) == ["olga@isp.example", "petr@other.example"]


@pytest.mark.parametrize(
    "prose",
    [
        # Postfix without a report part.
        b"<ivan.local@mbox.isp.example> (expanded from <ivan@isp.example>): host\n"
        b"    mbox.isp.example said: 550 5.1.1 user unknown (in reply to RCPT TO command)\n",
        # Exim.
        b"The following address(es) failed:\n\n  ivan.local@mbox.isp.example\n"
        b"    (generated from ivan@isp.example)\n"
        b"    SMTP error from remote mail server after RCPT TO:<ivan.local@mbox.isp.example>:\n"
        b"    550 5.1.1 user unknown\n",
        # Sendmail.
        b"----- The following addresses had permanent fatal errors -----\n"
        b"ivan.local@mbox.isp.example\n    (expanded from: ivan@isp.example)\n\n"
        b"----- Transcript of session follows -----\n550 5.1.1 ivan.local@mbox.isp.example... user unknown\n",
    ],
)
def test_the_alias_a_recipient_was_expanded_from_is_not_a_second_recipient(prose: bytes) -> None:
    # As RFC 3464's Final-Recipient: the address delivery failed for, with its own codes.
    head = b"From: MAILER-DAEMON@mx.isp.example\nTo: b@sender.example\nSubject: Undelivered Mail\n\n"
    assert [(f.recipient, f.reply_code) for f in parse_message(head + prose).failures] == [
        ("ivan.local@mbox.isp.example", 550)
    ]


def test_an_alias_alone_is_still_the_recipient() -> None:
    # Exim's "an undisclosed address (generated from a@x)": nothing else is named.
    raw = (
        b"From: MAILER-DAEMON@mx.isp.example\nTo: b@sender.example\nSubject: Mail delivery failed\n\n"
        b"The following address(es) failed:\n\n  an undisclosed address\n"
        b"    (generated from ivan@isp.example)\n    550 5.1.1 user unknown\n"
    )
    assert _recipients(raw) == ["ivan@isp.example"]


def test_the_returned_originals_sender_side_fields_are_not_recipients() -> None:
    # The prose quotes the original's Reply-To (Notes, some gateways); the original went to a
    # list, so nothing in it names the failed recipient.
    raw = (
        b"From: MAILER-DAEMON@mx.isp.example\nTo: b@sender.example\nSubject: Undeliverable\n"
        b'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="B"\n\n--B\n'
        b"Content-Type: text/plain\n\nYour message (replies go to replies@sender.example)\n"
        b"could not be delivered to ivan@isp.example: user unknown.\n"
        b"--B\nContent-Type: message/rfc822\n\nFrom: news@sender.example\nTo: news@lists.sender.example\n"
        b"Reply-To: replies@sender.example\nList-Unsubscribe: <mailto:u-123@sender.example>\n"
        b"Subject: hi\n\nhello\n--B--\n"
    )
    assert _recipients(raw) == ["ivan@isp.example"]


@pytest.mark.parametrize(
    "prose",
    [
        # RFC 5321 4.2.2: "551 User not local; please try <forward-path>".
        b"<ivan@isp.example>: host mx.isp.example[192.0.2.1] said: 551 User not local;\n"
        b"    please try <ivan@new.example> (in reply to RCPT TO command)\n",
        # Sendmail-style reason naming the replacement address.
        b"----- The following addresses had permanent fatal errors -----\n<ivan@isp.example>\n"
        b"    (reason: 550 5.1.6 ivan@isp.example has been replaced by ivan@new.example)\n",
        # A spelling suggestion.
        b"Your message to ivan@isp.example could not be delivered: no such user.\n"
        b"Did you mean ivan@isp-example.example?\n",
        # An example of the site's address form, split over lines.
        b"No mailbox matches ivan@isp.example. Use the most explicit form of the name, e.g.,\n"
        b"  ivan.q.example@isp.example.\n",
        # The site's contacts for help.
        b"Your message to ivan@isp.example could not be delivered: 550 5.1.1 user unknown.\n"
        b"For help, please contact the helpdesk at helpdesk@isp.example or write to noc@isp.example.\n",
    ],
)
def test_an_address_offered_instead_of_the_failed_one_is_not_a_recipient(prose: bytes) -> None:
    head = b"From: MAILER-DAEMON@mx.sender.example\nTo: b@sender.example\nSubject: Undelivered Mail\n\n"
    assert _recipients(head + prose) == ["ivan@isp.example"]


def test_an_address_named_both_as_advice_and_as_failed_stays() -> None:
    prose = (
        b"Did you mean olga@isp.example?\n\n<olga@isp.example>: 550 5.1.1 user unknown\n"
        b"<ivan@isp.example>: 550 5.1.1 user unknown\n"
    )
    head = b"From: MAILER-DAEMON@mx.sender.example\nTo: b@sender.example\nSubject: Undelivered Mail\n\n"
    assert sorted(_recipients(head + prose)) == ["ivan@isp.example", "olga@isp.example"]


@pytest.mark.parametrize(
    ("prose", "recipients"),
    [
        # The prose names our sender, of the domain the bounce came back to.
        (
            b"Your message from news@sender.example to ivan@isp.example\n"
            b"could not be delivered: 550 5.1.1 no such user.\n",
            ["ivan@isp.example"],
        ),
        # ... but one of our own domain that heads its own failure line failed too.
        (
            b"<olga@sender.example>: 550 5.1.1 no such user\n\n<ivan@isp.example>: 550 5.1.1 no such user\n"
            b"554 <petr@mail.sender.example>... 550 Host unknown\n",
            ["olga@sender.example", "ivan@isp.example", "petr@mail.sender.example"],
        ),
    ],
)
def test_addresses_of_our_own_domain(prose: bytes, recipients: list[str]) -> None:
    head = b"From: MAILER-DAEMON@mx.isp.example\nTo: bounce-1234@mail.sender.example\nSubject: Failure\n\n"
    assert _recipients(head + prose) == recipients


def test_the_list_a_returned_post_went_to_is_not_its_recipient() -> None:
    # The bounce names nobody; the returned original's To is the list (RFC 2369 List-Post).
    raw = (
        b"From: MAILER-DAEMON@mx.isp.example\nTo: b@sender.example\nSubject: Undeliverable\n"
        b'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="B"\n\n--B\n'
        b"Content-Type: text/plain\n\nYour message could not be delivered: user unknown.\n"
        b"--B\nContent-Type: message/rfc822\n\nFrom: b@sender.example\nTo: news@lists.example\n"
        b"List-Post: <mailto:news@lists.example>\nSubject: hi\n\nhello\n--B--\n"
    )
    assert _recipients(raw) == []
    unlisted = raw.replace(b"List-Post: <mailto:news@lists.example>\n", b"")
    assert _recipients(unlisted) == ["news@lists.example"]
