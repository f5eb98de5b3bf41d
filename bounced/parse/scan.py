"""The scan: the detectors (`detectors.DETECTORS`) in order over one message; the first that
recognises its format decides. Then the one exit check on recipients, whoever found them.
"""

from __future__ import annotations

import re
from dataclasses import replace

from bounced.model import Failure, MessageType, ParsedMessage
from bounced.parse.address import drop_glued_copies, valid_recipient
from bounced.parse.context import Context
from bounced.parse.cut import fit_for_parsing
from bounced.parse.detectors import DETECTORS, Detection
from bounced.parse.mime import Part, iter_parts
from bounced.parse.stage import with_smtp_commands
from bounced.parse.text import find_addresses

__all__ = ["scan"]

_ENVELOPE_HEADERS = ("x-original-to", "delivered-to", "envelope-to", "x-envelope-to", "x-apparently-to")
_ENVELOPE_RE = re.compile(r"\n(?:" + "|".join(_ENVELOPE_HEADERS) + r")[ \t]*:")
MAX_FAILURES = 500


def _defects(msg: Part) -> tuple[str, ...]:
    found: list[str] = []
    for _, part in iter_parts(msg):
        for defect in part.defects:
            if defect not in found:
                found.append(defect)
            if len(found) >= 20:
                return tuple(found)
    return tuple(found)


def _envelope_to(msg: Part) -> tuple[str, ...]:
    if not _ENVELOPE_RE.search(msg.lowered_head):  # one scan instead of five lookups
        return ()
    seen: list[str] = []
    for name in _ENVELOPE_HEADERS:
        for value in msg.get_all(name):
            for address in find_addresses(value):
                if address not in seen:
                    seen.append(address)
    return tuple(seen)


def _valid_unique(failures: list[Failure]) -> tuple[tuple[Failure, ...], bool]:
    """The one exit check: only valid mailboxes (`address.valid_recipient`), no address
    twice, no copy of another with text glued to its front; at most MAX_FAILURES (and
    whether that cap cut)."""
    checked: list[Failure] = []
    for f in failures:
        address = valid_recipient(f.recipient)
        if address is not None:
            checked.append(f if address == f.recipient else replace(f, recipient=address))
    glued = drop_glued_copies(f.recipient for f in checked) if len(checked) > 1 else set()
    seen: set[str] = set()
    kept: list[Failure] = []
    for f in checked:
        key = f.recipient.lower()
        if key in seen or key in glued:
            continue
        if len(kept) >= MAX_FAILURES:
            return tuple(kept), True
        seen.add(key)
        kept.append(f)
    return tuple(kept), False


def scan(raw: bytes) -> ParsedMessage:
    raw, cut = fit_for_parsing(raw)
    ctx = Context(raw)
    for detector in DETECTORS:
        found = detector.detect(ctx)
        if found is not None:
            break
    else:
        found = Detection(MessageType.NONE, ())
    failures = list(found.failures)
    if found.kind is MessageType.DSN:
        failures = with_smtp_commands(ctx, failures)
    kept, capped = _valid_unique(failures)
    return ParsedMessage(
        message_type=found.kind,
        failures=kept,
        original=found.original or ctx.original,
        subject=ctx.subject or None,
        envelope_to=_envelope_to(ctx.msg),
        defects=_defects(ctx.msg),
        truncated=(*(("max_parse_bytes",) if cut else ()), *(("max_failures",) if capped else ())),
    )
