"""The returned original message: as message/rfc822, text/rfc822-headers, or an inline copy."""

from __future__ import annotations

import re
from collections.abc import Callable

from bounced.model import OriginalMessage
from bounced.parse.mime import Part, decode_header_value, header, headers_from_text, iter_parts, part_text
from bounced.parse.text import first_address

__all__ = ["ORIGINAL_SEPARATOR_RE", "find_original_headers", "original_from_headers", "split_at_original"]

_ORIGINAL_TYPES = (
    "message/rfc822",
    "message/global",
    "text/rfc822-headers",
    "message/rfc822-headers",
    "text/global-headers",
    "message/global-headers",
)

# Lines that introduce an inline copy of the original (Exim, qmail, Yahoo, Sendmail v5, Notes,
# Google Groups, many gateways). Bounded alternatives: no nested quantifiers.
ORIGINAL_SEPARATOR_RE = re.compile(
    r"^[ \t>]{0,4}(?:[-=_*]{2,80}[ \t]*)?(?:"
    r"original message|original message follows|this is a copy of the message|"
    r"below this line is a copy of the message|copy of the message|"
    r"(?:unsent|undelivered|returned|original) (?:message|mail)|"
    r"unsent message below|message text follows|headers of (?:the )?(?:original|returned|your) message|"
    r"(?:original|returned) message headers|the header of the original message|"
    r"text of (?:your|the) message|message (?:headers|header) follows?|"
    r"original message header|returned mail:? see transcript|"
    r"続きを読む|元のメッセージ|送信メッセージ"
    r")[^\n]{0,120}$",
    re.MULTILINE,  # matched against lower-cased ASCII text; see split_at_original
)
_SEPARATOR_RE_I = re.compile(ORIGINAL_SEPARATOR_RE.pattern, re.IGNORECASE | re.MULTILINE)
# The same, anchored on a literal newline (searched in "\n" + text): the regex engine can then
# jump from line to line instead of trying every position.
_SEPARATOR_LINE_RE = re.compile("\n" + ORIGINAL_SEPARATOR_RE.pattern[1:], re.MULTILINE)
_INDENTED_HEADER_RE = re.compile(r"^([ \t]{0,8})[A-Za-z][A-Za-z0-9-]{0,60}:[ \t]", re.MULTILINE)


_KEY_HEADERS = frozenset(
    (
        "from",
        "to",
        "subject",
        "message-id",
        "date",
        "received",
        "return-path",
        "mime-version",
        "content-type",
        "x-mailer",
        "user-agent",
        "cc",
        "reply-to",
        "sender",
    )
)
# Exchange (IMS, 2000, 2003) and Notes sum the message up in their prose: "Your message\n
#   To: ...\n  Subject: ...\n  Sent: ...\n did not reach the following recipient(s):". Those
# lines are the report's words, not an inline copy of the original.
_SUMMARY_INTRO_RE = re.compile(r"your (?:original )?message:?$")
_FIELD_LINE_RE = re.compile(r"^[ \t]{0,4}([A-Za-z][A-Za-z0-9-]{0,60})[ \t]{0,2}:")
# The same lines, for key headers only, found in one pass over the lower-cased text.
_KEY_LINE_RE = re.compile(r"\n[ \t]{0,4}(" + "|".join(sorted(_KEY_HEADERS)) + r")[ \t]{0,2}:")


def _header_block_start(text: str) -> int | None:
    """Offset of the first run of header lines that looks like a message's header block."""
    # Most bounce prose has no three distinct key header lines at all: then no line-by-line walk.
    if len(set(_KEY_LINE_RE.findall("\n" + text.lower()))) < 3:
        return None
    offset = 0
    run_start: int | None = None
    names: set[str] = set()
    last_words = ""  # the last non-blank line before the current run
    for line in text.split("\n"):
        m = _FIELD_LINE_RE.match(line)
        if m:
            if run_start is None:
                run_start, names = offset, set()
            names.add(m.group(1).lower())
            if len(names & _KEY_HEADERS) >= 3 and not _SUMMARY_INTRO_RE.match(last_words):
                return run_start
        elif not (line[:1] in (" ", "\t") and run_start is not None):
            run_start = None
            if line.strip():
                last_words = line.strip().lower()
        offset += len(line) + 1
    return None


def split_at_original(text: str) -> tuple[str, str]:
    """(human-readable part, inline original) split at the first separator line, else at the
    first block of header lines that looks like a copied message."""
    # Lower-cased ASCII keeps every offset; elsewhere fall back to the (slower) IGNORECASE regex.
    if text.isascii():
        m = _SEPARATOR_LINE_RE.search("\n" + text.lower())
        if m:  # offsets in "\n" + text: the match starts at the newline before the line
            return text[: m.start()], text[m.end() - 1 :]
    else:
        m = _SEPARATOR_RE_I.search(text)
        if m:
            return text[: m.start()], text[m.end() :]
    start = _header_block_start(text)
    if start is None:
        return text, ""
    return text[:start], text[start:]


def _attached_original(msg: Part, into_messages: bool) -> Part | None:
    for depth, part in iter_parts(msg, into_messages=into_messages):
        if depth == 0:
            continue
        ctype = part.ctype
        if ctype not in _ORIGINAL_TYPES:
            continue
        if ctype in ("message/rfc822", "message/global") and part.children and part.children[0].has_fields:
            return part.children[0]
        text = part_text(part)
        if text.strip():
            return headers_from_text(text.lstrip("\n"))
    return None


def find_original_headers(msg: Part, inline_copy: Callable[[], str] = str) -> Part | None:
    """The headers of the returned message: attached, or copied inline after a separator."""
    # The original is normally a direct part of the report; look inside attached messages only
    # when it is not (a report forwarded inside another message).
    for into_messages in (False, True):
        found = _attached_original(msg, into_messages)
        if found is not None:
            return found
    body_tail = inline_copy()  # computed only when no part holds the original
    if body_tail:
        m = _INDENTED_HEADER_RE.search(body_tail[:4000])
        if m:
            # Inline copies may be indented as a whole (Notes, some gateways): remove that indent.
            indent = m.group(1)
            lines = body_tail[m.start() :].split("\n")
            if indent:
                lines = [line[len(indent) :] if line.startswith(indent) else line for line in lines]
            return headers_from_text("\n".join(lines))
    return None


def _address(value: str) -> str | None:
    return first_address(value) if value else None


def original_from_headers(headers: Part | None, return_path_fallback: str | None = None) -> OriginalMessage:
    if headers is None:
        return OriginalMessage(return_path=return_path_fallback)
    return OriginalMessage(
        message_id=(headers.get("message-id") or "").strip() or None,
        from_address=_field_address(headers, "from"),
        mailing_id=header(headers, "X-Mailing-ID").strip() or None,
        return_path=_field_address(headers, "return-path") or return_path_fallback,
        to_address=_field_address(headers, "to"),
    )


def _field_address(headers: Part, name: str) -> str | None:
    """The first address in a field; RFC 2047 decoding only when the raw value has none
    (display names may be encoded, the address itself normally is not)."""
    raw = headers.get(name)
    if not raw:
        return None
    return first_address(raw) or (first_address(decode_header_value(raw)) if "=?" in raw else None)
