"""Codes and addresses found in free text."""

from __future__ import annotations

import pytest

from bounced.parse.text import clean_diagnostic, find_addresses, find_reply_code, find_status


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("550 5.1.1 <a@b.example>: User unknown", "5.1.1"),
        ("smtp; 421 4.7.0 Try again", "4.7.0"),
        ("host 10.5.1.1 said: 550 no such user", None),  # an IP address is not a status code
        ("Remote host said: 552 #5.2.2 mailbox full", "5.2.2"),
        ("version 1.2.3.4 failed", None),
        ("RESOLVER.ADR.RecipientNotFound 550 5.1.10", "5.1.10"),
    ],
)
def test_find_status(text: str, status: str | None) -> None:
    assert find_status(text) == status


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("550 5.1.1 <a@b.example>: User unknown", 550),
        ("host mx[192.0.2.1] said: 450 4.2.0 Greylisted", 450),
        ("said: 550-5.1.1 The email account", 550),
        ("Remote host said: 554 delivery error", 554),
        ("ERROR_CODE :550, ERROR_CODE :5.2.1", 550),
        ("Connection timed out after 451 seconds", None),
        ("no codes at all", None),
        # Sendmail's own code, then the remote server's reply after "<address>...".
        ("554 <a@b.example>... 550 Host unknown (Authoritative answer from name server)", 550),
        ("554 <a@b.example>... Remote protocol error 421 b.example (smtp)", 554),
    ],
)
def test_find_reply_code(text: str, code: int | None) -> None:
    assert find_reply_code(text) == code


def test_find_addresses_strips_punctuation_and_keeps_quoted_local_parts() -> None:
    text = "<a.b+tag@Example.COM>, 'c@d.example' and <\"odd..local\"@e.example>; x@y"
    assert find_addresses(text) == ["a.b+tag@Example.COM", "c@d.example", '"odd..local"@e.example']


def test_clean_diagnostic_unfolds_and_bounds() -> None:
    assert clean_diagnostic("550 5.1.1\n    user\tunknown  ") == "550 5.1.1 user unknown"
    assert len(clean_diagnostic("x " * 10_000)) == 2000
