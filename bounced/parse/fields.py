"""Header fields and text decoding for the MIME reader: charset fallbacks, RFC 2047 words,
RFC 5322 unfolding, and field lookup by str.find in a lower-cased copy of a header block.
"""

from __future__ import annotations

import binascii
import email.errors
import email.header
import re

__all__ = [
    "MAX_HEADER_LINES",
    "b64decode_lenient",
    "decode_header_block",
    "decode_header_value",
    "fields_of",
    "find_field",
    "find_fields",
    "header_extent",
    "to_text",
]

MAX_HEADER_LINES = 2000

# Fields with their continuation lines (RFC 5322 folding), and the first line that is neither
# (where the header ends). Both run in C over the whole block.
_FIELDS_RE = re.compile(r"^([!-9;-~]{1,100})[ \t]*:[ \t]*([^\n]*(?:\n[ \t][^\n]*)*)", re.MULTILINE)
# Searched from a newline (a literal first character lets the regex engine skip ahead fast).
_NOT_FIELD_LINE_RE = re.compile(r"\n(?![!-9;-~]{1,100}[ \t]*:|[ \t])")
_VALUE_RE = re.compile(r"[ \t]*([^\n]*(?:\n[ \t][^\n]*)*)")
_FIELD_START_RE = re.compile(r"[!-9;-~]{1,100}[ \t]*:")
_ENCODED_WORD = "=?"


def to_text(data: bytes | str, charset: str | None = None) -> str:
    """Decode with the declared charset, else UTF-8, else latin-1 (which cannot fail)."""
    if isinstance(data, str):
        return data
    if charset:
        try:
            return data.decode(charset, "replace")
        except (LookupError, ValueError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _unsurrogate(value: str) -> str:
    # Values that went through the stdlib (compat32) keep 8-bit bytes as surrogate escapes.
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return to_text(value.encode("utf-8", "surrogateescape"))
    return value


def decode_header_value(value: object) -> str:
    """A header value as clean text: 8-bit bytes recovered, RFC 2047 words decoded, unfolded."""
    if value is None:
        return ""
    if isinstance(value, email.header.Header):
        try:
            text = str(value)
        except (UnicodeError, LookupError):
            text = value.encode()
    else:
        text = _unsurrogate(str(value))
    if _ENCODED_WORD in text:
        try:
            chunks = email.header.decode_header(text)
            text = "".join(to_text(c, cs) if isinstance(c, bytes) else c for c, cs in chunks)
        except (ValueError, LookupError, UnicodeError, AssertionError, IndexError, email.errors.MessageError):
            pass  # a malformed encoded word stays as written
    return " ".join(text.split())


def b64decode_lenient(body: bytes, limit: int) -> bytes:
    """Base64 with line breaks, junk and missing padding tolerated; at most `limit` input bytes."""
    data = re.sub(rb"[^A-Za-z0-9+/]", b"", body[:limit])
    data = data[: len(data) - len(data) % 4]
    try:
        return binascii.a2b_base64(data)
    except (binascii.Error, ValueError):
        return b""


def header_extent(block: str) -> tuple[int, int]:
    """(start, end) of the header fields in `block` (LF lines). A line that is neither a field
    nor a continuation ends the header (it is body); a leading mbox "From " line is skipped."""
    start = 0
    if block.startswith("From "):
        start = block.find("\n") + 1 or len(block)
    if not _FIELD_START_RE.match(block, start):
        return start, start  # the first line is no field (or a continuation of nothing): no header
    stop = _NOT_FIELD_LINE_RE.search(block, start)
    return start, stop.start() + 1 if stop else len(block)


def find_field(head: str, low: str, key: str) -> str | None:
    """`key`'s first value in `head`; `low` is "\n" + head.lower() (so low[i] is head[i - 1])."""
    found = find_fields(head, low, key, first_only=True)
    return found[0] if found else None


def find_fields(head: str, low: str, key: str, first_only: bool) -> list[str]:
    needle = "\n" + key
    size = len(low)
    values: list[str] = []
    pos = low.find(needle)
    while pos != -1:
        j = pos + len(needle)
        while j < size and low[j] in " \t":
            j += 1
        if j < size and low[j] == ":":
            m = _VALUE_RE.match(head, j)  # head[j] follows the colon
            value = m.group(1) if m is not None else ""
            values.append(value.replace("\n", " ").strip() if "\n" in value else value.strip())
            if first_only or len(values) >= MAX_HEADER_LINES:
                break
        pos = low.find(needle, j)
    return values


def fields_of(head: str) -> list[tuple[str, str]]:
    found = _FIELDS_RE.findall(head)
    if len(found) > MAX_HEADER_LINES:
        found = found[:MAX_HEADER_LINES]
    return [
        (name.lower(), value.replace("\n", " ").strip() if "\n" in value else value.strip())
        for name, value in found
    ]


def decode_header_block(block: bytes) -> str:
    try:
        return block.decode("utf-8")
    except UnicodeDecodeError:
        return block.decode("latin-1")
