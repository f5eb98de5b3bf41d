"""What every detector may read about one message, built once per message.

A `Context` is a read-only view: the scan builds it from the bytes and hands it to each
detector in turn; nothing writes to it afterwards. The facts that cost something (the
bounce's prose, its own From/To, the RFC 3464 fields, the returned original) are computed on
first use and then kept, since most messages are settled by a detector that never asks for
them (a well-formed RFC 3464 report never needs its prose).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

from bounced.model import Failure, OriginalMessage
from bounced.parse.addressees import original_addressees
from bounced.parse.dsn import Block, read_dsn
from bounced.parse.list_addresses import ListAddresses
from bounced.parse.mime import Part, header, parse_bytes
from bounced.parse.original import find_original_headers, original_from_headers, split_at_original
from bounced.parse.text import find_addresses, first_address, is_daemon_address

__all__ = ["GIVEN_UP_RE", "MAX_HUMAN_CHARS", "Context"]

MAX_HUMAN_CHARS = 64_000
# The MTA says it stopped trying (matched against lower-cased text).
GIVEN_UP_RE = re.compile(
    r"permanent|given up|giving up|not going to try again|too long|gave up|will not be retried|"
    r"could not be delivered|undeliverable|delivery has failed|failed permanently",
)
# Fields of the returned original that name its sender's side: where replies, errors,
# receipts and unsubscriptions go, the list it was posted to. Never the recipient the
# bounce is about.
_SENDER_SIDE_FIELDS = (
    "sender",
    "reply-to",
    "errors-to",
    "disposition-notification-to",
    "return-receipt-to",
    "list-unsubscribe",
    # A returned list post names its list here: the list is ours, the member failed.
    "list-post",
)
_SENDER_SIDE_RE = re.compile(r"\n(?:" + "|".join(_SENDER_SIDE_FIELDS) + r")[ \t]*:")
_TAG_RE = re.compile(r"<[^<>]{0,2000}>")
_SKIP_PART_TYPES = (
    "message/rfc822",
    "message/global",
    "text/rfc822-headers",
    "message/delivery-status",
    "message/global-delivery-status",
    "message/feedback-report",
)


_T = TypeVar("_T")


class _once(Generic[_T]):
    """`functools.cached_property` without its lock: Python 3.11 takes a lock on every first
    read, which cost 3 % of a whole parse. A context belongs to one scan in one thread."""

    def __init__(self, func: Callable[[Any], _T]) -> None:
        self._func = func
        self._name = func.__name__

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> _once[_T]: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> _T: ...
    def __get__(self, obj: object | None, owner: type | None = None) -> _T | _once[_T]:
        if obj is None:
            return self
        value = obj.__dict__[self._name] = self._func(obj)  # later reads find it there first
        return value


class Context:
    """One message as the detectors see it: the MIME tree, the raw bytes, and facts read
    from them on demand (cached)."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw  # as received (after the size cut), for cheap byte-level tests
        self.msg: Part = parse_bytes(raw)
        self.subject = header(self.msg, "Subject")

    def header(self, name: str) -> str:
        return header(self.msg, name)

    # --- machine-readable parts ------------------------------------------------------------

    @_once
    def dsn(self) -> tuple[list[Failure], Block]:
        """Failures of the RFC 3464 delivery-status parts, and their per-message fields."""
        return read_dsn(self.msg)

    @_once
    def original_headers(self) -> Part | None:
        """The returned message's headers: attached, or copied inline after the prose."""
        return find_original_headers(self.msg, lambda: self.tail)

    @_once
    def original(self) -> OriginalMessage:
        # Postfix names our envelope sender in its report even when it returns no headers.
        return original_from_headers(
            self.original_headers, first_address(self.dsn[1].get("x-postfix-sender", ""))
        )

    @_once
    def original_addressees(self) -> frozenset[str]:
        """Lower-cased addresses the returned original was sent to (`addressees`)."""
        return original_addressees(self.original_headers, self.tail)

    # --- the bounce's own words --------------------------------------------------------------

    @property
    def human(self) -> str:
        """The human-readable text, before any inline copy of the original."""
        return self._texts[0]

    @property
    def tail(self) -> str:
        """The inline copy of the original, if any."""
        return self._texts[1]

    @_once
    def _texts(self) -> tuple[str, str]:
        # Bounce prose is short; a huge text part is someone's message, and regexes cost time.
        text = _human_text(self.msg)
        if len(text) > MAX_HUMAN_CHARS:  # cut at a line end, never through an address
            text = text[: text.rfind("\n", 0, MAX_HUMAN_CHARS) + 1 or MAX_HUMAN_CHARS]
        return split_at_original(text)

    @_once
    def gave_up(self) -> bool:
        """The start of the prose says the MTA gave up ("permanent error", "not going to try again")."""
        return bool(GIVEN_UP_RE.search(self.human[:3000].lower()))

    # --- who is not a recipient --------------------------------------------------------------

    @_once
    def _own_addresses(self) -> tuple[str | None, tuple[str, ...]]:
        msg = self.msg
        # Addresses are read from the raw fields; RFC 2047 decoding only if that finds none.
        raw_from, raw_to = msg.get("from") or "", msg.get("to") or ""
        from_address = first_address(raw_from) or first_address(header(msg, "From"))
        to_addresses = tuple(find_addresses(raw_to) or find_addresses(header(msg, "To")))
        return from_address, to_addresses

    @property
    def from_address(self) -> str | None:
        return self._own_addresses[0]

    @property
    def to_addresses(self) -> tuple[str, ...]:
        return self._own_addresses[1]

    @_once
    def excluded(self) -> frozenset[str]:
        """Lower-cased addresses that are not recipients: the bounce's own From, To, Sender and
        Return-Path, and the returned original's sender-side fields (ours)."""
        original = self.original
        own = (first_address(self.msg.get("sender") or ""), first_address(self.msg.get("return-path") or ""))
        # A message someone sent to themselves (a test, a note to self) bounces for its author:
        # an author the original was also addressed to stays a possible recipient.
        authors = [a for a in (original.from_address, original.return_path) if a]
        prose = self.human.lower() if authors else ""
        named = any(a.lower() in prose for a in authors)  # else whether it was addressed can't matter
        addressees = self.original_addressees if named else frozenset()
        found = [*self.to_addresses, self.from_address, *own]
        found.extend(a for a in authors if a.lower() not in addressees)
        headers = self.original_headers
        if headers is not None and _SENDER_SIDE_RE.search(headers.lowered_head):
            for name in _SENDER_SIDE_FIELDS:
                found.extend(a for value in headers.get_all(name) for a in find_addresses(value))
        return frozenset(a.lower() for a in found if a)

    @_once
    def list_addresses(self) -> ListAddresses:
        return ListAddresses(self.msg, self.to_addresses)

    def is_candidate(self, address: str) -> bool:
        low = address.lower()
        if low in self.excluded or low in self.list_addresses:
            return False
        if low.startswith("postmaster@"):
            # A recipient that bounced, unless it is the reporting site's own contact address.
            own = (self.from_address or "").lower().rpartition("@")[2]
            return low.rpartition("@")[2] != own
        return not is_daemon_address(address)


def _human_text(msg: Part) -> str:
    """The bounce's own words: text parts outside any returned message (HTML as a fallback)."""
    texts: list[str] = []
    html: list[str] = []
    stack = [msg]
    while stack:
        part = stack.pop()
        ctype = part.ctype
        if ctype.startswith("multipart/"):
            if part.children:
                stack.extend(reversed(part.children))
            else:  # a boundary that never appears: its body is all there is to read
                texts.append(part.text())
            continue
        if ctype in _SKIP_PART_TYPES:
            continue
        if ctype in ("text/plain", "text"):
            texts.append(part.text())
        elif ctype == "text/html":
            stripped = _TAG_RE.sub(" ", part.text())
            html.append(stripped.replace("&lt;", "<").replace("&gt;", ">").replace("&nbsp;", " "))
    return "\n\n".join(texts) if texts else "\n\n".join(html)
