"""The one recipient check (`bounced.parse.address.valid_recipient`) against a maintained
library, and the parser's promise built on it: whatever the input, no recipient it emits
fails the check.

email-validator (syntax only: deliverability off, special-use domains allowed) is the
reference. Known and accepted differences: A-labels ("xn--") are checked for their LDH
shape only (the library decodes them with the IDNA tables), and a non-ASCII address is
accepted whenever its shape is right (the library also refuses code points UTS 46 forbids).
"""

from __future__ import annotations

import email_validator
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bounced.parse import parse_message
from bounced.parse.address import valid_recipient


def _library_accepts(address: str) -> bool:
    saved = email_validator.SPECIAL_USE_DOMAIN_NAMES
    email_validator.SPECIAL_USE_DOMAIN_NAMES = []  # "example", "invalid" ... are fine here
    try:
        validate_email(
            address,
            check_deliverability=False,
            allow_smtputf8=True,
            allow_quoted_local=True,
            allow_domain_literal=True,
            globally_deliverable=True,
        )
        return True
    except EmailNotValidError:
        return False
    finally:
        email_validator.SPECIAL_USE_DOMAIN_NAMES = saved


_LOCAL_CHARS = "abzAZ09.-+_=/!#$%&'*?^`{|}~\"\\ (),:;<>@[]"
_DOMAIN_CHARS = "abzAZ09.-_[]:"
_PIECES = ["", "a", "ab", "x" * 63, "x" * 64, "1", "-", ".", '"', "[192.0.2.1]", "[IPv6:2001:db8::1]"]


@st.composite
def ascii_candidate(draw: st.DrawFn) -> str:
    local = draw(st.one_of(st.text(_LOCAL_CHARS, min_size=1, max_size=12), st.sampled_from(_PIECES)))
    domain = draw(st.one_of(st.text(_DOMAIN_CHARS, min_size=1, max_size=16), st.sampled_from(_PIECES)))
    tld = draw(st.sampled_from(["", ".org", ".co.uk", ".example", ".9", ".b9", ".x", "."]))
    return f"{local}@{domain}{tld}"


@settings(max_examples=500, deadline=None)
@given(ascii_candidate())
@example("0@00--0.org")  # a reserved "??--" label that is not an A-label (found by this test)
@example("a@ab--c.example")
def test_ascii_addresses_agree_with_email_validator(address: str) -> None:
    # The check also takes off surrounding space and angle brackets, which the library refuses.
    address = address.strip()
    if "xn--" in address.lower() or (address.startswith("<") and address.endswith(">")):
        return
    assert (valid_recipient(address) is not None) == _library_accepts(address), address


@pytest.mark.parametrize(
    "address",
    [
        "ü@bücher.example",
        "用户@例子.广告",
        "δοκιμή@παράδειγμα.δοκιμή",
        "медведь@пример.рф",
        '"quoted ü"@example.org',
        "a@xn--bcher-kva.example",
    ],
)
def test_utf8_addresses_the_library_accepts_are_accepted(address: str) -> None:
    assert _library_accepts(address)
    assert valid_recipient(address) == address


_HEAD = b"From: MAILER-DAEMON@mx.example\nTo: b@sender.example\nSubject: Undelivered Mail\n\n"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.text(max_size=60),
            st.sampled_from(
                [
                    "a@b.example",
                    "<a@b.example>:",
                    '"emailAddress":"a@b.example',
                    "identity/a@b.example",
                    "&Endpoint=a@b.example",
                    "550 5.1.1 ",
                    "@@",
                    "x@y",
                    "Final-Recipient: rfc822; ",
                    "RCPT TO:<",
                    "\n\n",
                    "user unknown",
                ]
            ),
        ),
        max_size=20,
    )
)
def test_no_emitted_recipient_fails_the_check(pieces: list[str]) -> None:
    parsed = parse_message(_HEAD + "".join(pieces).encode("utf-8", "surrogatepass"))
    for failure in parsed.failures:
        assert valid_recipient(failure.recipient) == failure.recipient, failure.recipient
