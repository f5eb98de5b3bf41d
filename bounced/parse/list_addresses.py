"""A mailing list's own addresses, which a bounce names but which never failed.

A bounce to a list is addressed to the list's bounce or admin address (Mailman's
`list-bounces`, `list-admin`, `owner-list`; FML's `list-ctl`; Majordomo's `list-request`),
often with the member VERP-encoded after a "+". Its prose then names the list itself ("not
accepting mail from list@x") and its control addresses, and a list server's own notice
advertises them in RFC 2369 `List-*` fields. None of these is a recipient of ours.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bounced.parse.mime import Part
from bounced.parse.text import find_addresses

__all__ = ["ListAddresses"]

# RFC 2369 fields that name control addresses (List-Post names the list itself: a list server
# refusing a post lists that as the failed recipient, so it stays a candidate there).
_CONTROL_FIELDS = ("list-help", "list-subscribe", "list-unsubscribe", "list-owner")
_CONTROL_SUFFIX_RE = re.compile(r"^(.{1,64}?)-(?:bounces?|request|owner|admin|ctl|errors)(?:\+[^@]{0,200})?$")
_OWNER_PREFIX_RE = re.compile(r"^owner-(.{1,64})$")


class ListAddresses:
    """The list addresses a bounce reveals: its control fields' addresses, and every address
    of a list whose control address the bounce was sent to (`list@x`, `list-anything@x`)."""

    def __init__(self, msg: Part, to_addresses: Iterable[str]) -> None:
        fields = _CONTROL_FIELDS if "\nlist-" in msg.lowered_head else ()  # most bounces have none
        self.control = frozenset(
            a.lower() for name in fields for v in msg.get_all(name) for a in find_addresses(v)
        )
        bases: set[tuple[str, str]] = set()
        for address in to_addresses:
            local, _, domain = address.lower().rpartition("@")
            m = _CONTROL_SUFFIX_RE.match(local) or _OWNER_PREFIX_RE.match(local)
            if m:
                bases.add((m.group(1), domain))
        self.lists = frozenset(bases)

    def __contains__(self, low: str) -> bool:
        """Whether the lower-cased `low` is one of the list's addresses."""
        if low in self.control:
            return True
        if not self.lists:
            return False
        local, _, domain = low.rpartition("@")
        return any(
            domain == d and (local == base or local.startswith(base + "-") or local == "owner-" + base)
            for base, d in self.lists
        )
