"""Addresses and diagnostics found in free text (codes: tests/test_smtp_reply.py)."""

from __future__ import annotations

from bounced.parse.text import clean_diagnostic, find_addresses


def test_find_addresses_strips_punctuation_and_keeps_quoted_local_parts() -> None:
    text = "<a.b+tag@Example.COM>, 'c@d.example' and <\"odd..local\"@e.example>; x@y"
    assert find_addresses(text) == ["a.b+tag@Example.COM", "c@d.example", '"odd..local"@e.example']


def test_clean_diagnostic_unfolds_and_bounds() -> None:
    assert clean_diagnostic("550 5.1.1\n    user\tunknown  ") == "550 5.1.1 user unknown"
    assert len(clean_diagnostic("x " * 10_000)) == 2000
