"""Whom the returned original was addressed to: its To, Cc and envelope fields, and the
"for <address>" of the Received lines the recipient's own servers added.

When bounce prose names several addresses, the failed ones are among these; the others are
advice (a directory's suggestions, the site's standard address form, a contact).
"""

from __future__ import annotations

import re

from bounced.parse.mime import Part
from bounced.parse.text import find_addresses

__all__ = ["original_addressees"]

_FIELDS = ("to", "cc", "delivered-to", "x-original-to", "envelope-to", "x-envelope-to")
# In an inline copy, possibly quoted with ">" or indented (the header block was not parsed).
_FIELD_LINE_RE = re.compile(
    r"^[ \t>]{0,8}(?:" + "|".join(_FIELDS) + r")[ \t]{0,4}:([^\n]{0,2000})$", re.MULTILINE | re.IGNORECASE
)
_RECEIVED_FOR_RE = re.compile(r"\bfor[ \t\n>]{1,8}<([^<>\s]{1,254})>", re.IGNORECASE)
_TAIL_CHARS = 20_000


def original_addressees(headers: Part | None, tail: str) -> frozenset[str]:
    """Lower-cased addresses the returned original was addressed to (empty: nothing returned)."""
    found: list[str] = []
    if headers is not None:
        for name in _FIELDS:
            for value in headers.get_all(name):
                found.extend(find_addresses(value))
        for value in headers.get_all("received"):
            found.extend(_RECEIVED_FOR_RE.findall(value))
    text = tail[:_TAIL_CHARS]
    if text:
        for m in _FIELD_LINE_RE.finditer(text):
            found.extend(find_addresses(m.group(1)))
        found.extend(_RECEIVED_FOR_RE.findall(text))
    return frozenset(a.lower() for a in found)
