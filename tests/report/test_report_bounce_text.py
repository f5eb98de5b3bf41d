"""normalise_bounce_text: the same reason groups together; codes stay; it is fast and total."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bounced.report.bounce_text import MAX_KEY, normalise_bounce_text

# The product's five documented soft-bounce texts, each as two messages that differ in
# everything that varies per message (addresses, URLs, numbers, wrapping, diagnostic type).
DOCUMENTED = [
    (
        ("421 Message source blocked temporarily. One or more sender authentication rules matched.", 421),
        (
            "smtp; 421 Message source blocked temporarily.  One or more sender\r\n"
            " authentication rules matched.",
            421,
        ),
        "421 Message source blocked temporarily. One or more sender authentication rules matched.",
    ),
    (
        ("421 Service Temporarily Unavailable", 421),
        ("Service Temporarily Unavailable", 421),
        "421 Service Temporarily Unavailable",
    ),
    (
        ("451 Please try again later", 451),
        ("smtp;451 Please try again later", None),
        "451 Please try again later",
    ),
    (
        (
            "451 <anna.berg@example.org>: Recipient address rejected: Intentional policy rejection,"
            " please try again later",
            451,
        ),
        (
            "451 <bob+news@mail.example.net>: Recipient address rejected: Intentional policy"
            " rejection, please try again later",
            451,
        ),
        "451 <EMAIL>: Recipient address rejected: Intentional policy rejection, please try again later",
    ),
    (
        (
            "450 <carl@example.de>: Sender address rejected: Greylisted for 120 seconds! Please, see"
            " http://postgrey.example.de/help/example.de.html",
            450,
        ),
        (
            "450 <b-Xk29.dana=example.com@bounces.sender.test>: Sender address rejected: Greylisted for"
            " 300 seconds! Please, see https://grey.example.com/why?id=8841",
            450,
        ),
        "450 <EMAIL>: Sender address rejected: Greylisted for <N> seconds! Please, see <URL>",
    ),
]


@pytest.mark.parametrize(("first", "second", "expected"), DOCUMENTED)
def test_documented_texts_group_across_messages(
    first: tuple[str, int | None], second: tuple[str, int | None], expected: str
) -> None:
    assert normalise_bounce_text(*first) == expected
    assert normalise_bounce_text(*second) == expected


def test_documented_texts_stay_distinct() -> None:
    keys = {normalise_bounce_text(*first) for first, _, _ in DOCUMENTED}
    assert len(keys) == len(DOCUMENTED)


@pytest.mark.parametrize(
    ("text", "code", "expected"),
    [
        # enhanced status codes are kept, the reply code leads
        ("452 4.2.2 <a@b.example>: Mailbox full", 452, "452 4.2.2 <EMAIL>: Mailbox full"),
        ("452-4.2.2 The email account is over quota", 452, "452 4.2.2 The email account is over quota"),
        # Postfix's "host X said:" names the MX, which differs per host of one domain
        (
            "host mx7.example.org[192.0.2.17] said: 450 4.7.1 Try later (in reply to RCPT TO command)",
            450,
            "450 4.7.1 Try later (in reply to RCPT TO command)",
        ),
        # IPs (v4 and v6), queue ids, numbers
        ("421 4.7.0 [203.0.113.9] too many connections", 421, "421 4.7.0 [<IP>] too many connections"),
        ("421 4.7.0 [2001:db8::25] too many connections", 421, "421 4.7.0 [<IP>] too many connections"),
        ("451 4.3.0 queue id 4F1C2A0123B deferred", 451, "451 4.3.0 queue id <ID> deferred"),
        ("451 4.3.0 try again in 15 minutes", 451, "451 4.3.0 try again in <N> minutes"),
        # Gmail repeats the code on every line of a multi-line reply
        (
            "450-4.2.1 The user you are trying to contact is 450-4.2.1 receiving mail too quickly."
            " https://support.google.com/mail/?p=ReceivingRate a1b2c3d4e5f6g7h8 - gsmtp",
            450,
            "450 4.2.1 The user you are trying to contact is receiving mail too quickly. <URL> <ID> - gsmtp",
        ),
        # no code in the text: the reply code is prefixed, so both forms group together
        ("Mailbox full", 452, "452 Mailbox full"),
        ("", 421, "421"),
        ("", None, ""),
        ("Ünïcödé mailbox voll für <jörg@exämple.de>", 452, "452 Ünïcödé mailbox voll für <EMAIL>"),
    ],
)
def test_normalisation(text: str, code: int | None, expected: str) -> None:
    assert normalise_bounce_text(text, code) == expected


def test_url_keeps_sentence_punctuation() -> None:
    assert normalise_bounce_text("451 see https://x.example/a?b=1.", 451) == "451 see <URL>."


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=3000), st.one_of(st.none(), st.integers(min_value=200, max_value=599)))
def test_total_bounded_and_idempotent_on_keys(text: str, code: int | None) -> None:
    key = normalise_bounce_text(text, code)
    assert len(key) <= MAX_KEY
    assert "\n" not in key


@pytest.mark.parametrize(
    "text",
    [
        "a" * 1_000_000,
        "1" * 1_000_000,
        "a@" * 500_000,
        "http://" + "x" * 1_000_000,
        "-1a" * 300_000,
        "1." * 500_000,
        ":1" * 500_000,
        "<" * 1_000_000,
    ],
)
def test_fast_on_hostile_input(text: str) -> None:
    started = time.process_time()
    normalise_bounce_text(text, 451)
    assert time.process_time() - started < 0.5
