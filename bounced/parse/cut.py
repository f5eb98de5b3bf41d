"""Bring an oversized message under MAX_PARSE_BYTES, keeping what a bounce is made of.

A plain cut at the first MAX_PARSE_BYTES loses a valid report behind 5 MB of headers or a
huge first text part. This keeps the header fields MIME and attribution need (each capped),
the start of the body, and every machine-readable report part (RFC 3464 delivery-status,
RFC 6533 global-delivery-status, RFC 5965 feedback-report) wherever it sits. The caller
records that it cut (`ParsedMessage.truncated`).
"""

from __future__ import annotations

import re

from bounced.parse.mime import MAX_PARSE_BYTES

__all__ = ["MAX_HEAD_BYTES", "fit_for_parsing"]

MAX_HEAD_BYTES = 128_000
_MAX_FIELD = 8_000
_MAX_REPORT_PART = 128_000
# Needed to read the structure and to attribute the bounce; kept whatever precedes them.
_KEEP_RE = re.compile(
    rb"\n(?:content-type|content-transfer-encoding|mime-version|from|to|subject|date|message-id|"
    rb"in-reply-to|return-path|auto-submitted|x-failed-recipients|delivered-to|x-original-to|"
    rb"envelope-to)[ \t]*:[^\n]{0,%d}(?:\n[ \t][^\n]{0,%d}){0,50}" % (_MAX_FIELD, _MAX_FIELD),
    # Searched in a lower-cased copy: a pattern opening with a literal lets the engine skip
    # ahead, where IGNORECASE and "^" would test every byte of a 5 MB field.
)
_REPORT_TYPES = (b"message/delivery-status", b"message/global-delivery-status", b"message/feedback-report")


def fit_for_parsing(raw: bytes) -> tuple[bytes, bool]:
    """(`raw` or a reduced copy of at most MAX_PARSE_BYTES, whether anything was cut)."""
    if len(raw) <= MAX_PARSE_BYTES:
        return raw, False
    ends = [i for i in (raw.find(b"\n\n"), raw.find(b"\n\r\n")) if i >= 0]
    head_end = min(ends) + 1 if ends else len(raw)
    head, body = raw[:head_end], raw[head_end:]
    if len(head) > MAX_HEAD_BYTES:
        head = _slim_head(head)
    budget = MAX_PARSE_BYTES - len(head)
    if len(body) > budget:
        body = _slim_body(body, budget)
    return head + body, True


def _slim_head(head: bytes) -> bytes:
    """The head's first MAX_HEAD_BYTES / 2 (whole fields), then only the fields in _KEEP."""
    lead = head[: MAX_HEAD_BYTES // 2]
    cut = lead.rfind(b"\n")
    while cut > 0 and lead[cut + 1 : cut + 2] in (b" ", b"\t"):  # never end inside a folded field
        cut = lead.rfind(b"\n", 0, cut)
    lead = lead[: cut + 1] if cut >= 0 else b""
    kept = [lead]
    used = len(lead)
    for m in _KEEP_RE.finditer(head.lower(), max(len(lead) - 1, 0)):
        field = head[m.start() + 1 : m.end()][:_MAX_FIELD].rstrip(b"\r\n")
        kept.append(field + b"\n")
        used += len(field) + 1
        if used >= MAX_HEAD_BYTES:
            break
    return b"".join(kept)


def _report_parts(body: bytes, after: int) -> list[tuple[int, bytes]]:
    """(offset, bytes) of each report part that starts past `after`, from its boundary line
    to the next."""
    parts: list[tuple[int, bytes]] = []
    for kind in _REPORT_TYPES:
        hit = body.find(kind, after)
        while hit >= 0 and len(parts) < 4:
            start = body.rfind(b"\n--", after, hit)
            if start < 0:
                break
            line = body[start + 1 : body.find(b"\n", start + 1)].rstrip(b"\r -")
            end = body.find(b"\n" + line, hit)
            end = end if 0 <= end - start <= _MAX_REPORT_PART else start + _MAX_REPORT_PART
            parts.append((start, body[start:end]))
            hit = body.find(kind, end)
    return parts


def _slim_body(body: bytes, budget: int) -> bytes:
    reports = sorted(_report_parts(body, budget // 4))
    if not reports:
        return body[:budget]
    room = budget - sum(len(p) for _, p in reports) - 2
    lead = body[: max(0, min(room, reports[0][0]))]  # never a report twice
    return lead + b"\n" + b"".join(p for _, p in reports) + b"\n"
