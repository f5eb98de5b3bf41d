"""A small, forgiving MIME reader: bytes to a tree of `Part`s.

Why not `email.parser`: even with compat32 it costs ~300 us per bounce, more than all the
rest of parsing, and a bounce needs only a few header fields, part boundaries and decoded
text. This reader splits with C-level searches, decodes lazily, bounds depth, part count and
bytes scanned, and never raises on content (a missing boundary leaves the body as text, bad
base64 decodes what it can). Field and charset decoding live in `fields.py`.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterator

from bounced.parse.fields import (
    b64decode_lenient,
    decode_header_block,
    decode_header_value,
    fields_of,
    find_field,
    find_fields,
    header_extent,
    to_text,
)

__all__ = [
    "MAX_DEPTH",
    "MAX_PARSE_BYTES",
    "MAX_TEXT_CHARS",
    "Part",
    "content_type",
    "decode_header_value",
    "header",
    "headers_from_text",
    "iter_parts",
    "normalise_newlines",
    "parse_bytes",
    "part_text",
    "to_text",
]

# Bounce information sits at the front; the returned original may be huge. Reading more than
# this buys nothing and costs linear time (a 10 MB body would otherwise be scanned fully).
MAX_PARSE_BYTES = 1_000_000
MAX_TEXT_CHARS = 200_000  # cap on the decoded text of one part handed to regexes
MAX_DEPTH = 12  # nested multipart / message levels we read into
MAX_PARTS = 200

_HEADER_END = re.compile(rb"\n[ \t]*\n")
_LEADING_BLANK_RE = re.compile(rb"(?:\xef\xbb\xbf)?(?:[ \t]{0,1000}\n){1,1000}|\xef\xbb\xbf")
_PARAM_RE = re.compile(r';\s*([A-Za-z0-9*_.-]{1,60})\s*=\s*("[^"]{0,1000}"|[^;\s]{0,1000})')
# compat32 parses these into field blocks, not MIME parts; we keep them as text.
_MESSAGE_TYPES = frozenset(("message/rfc822", "message/global", "message/rfc822-headers"))


def normalise_newlines(raw: bytes) -> bytes:
    """CRLF and bare CR become LF (old Mac and some Windows gateways send bare CR)."""
    if b"\r" not in raw:
        return raw
    return raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


class Part:
    """One MIME entity: header fields, raw body bytes, children, all read lazily where costly."""

    __slots__ = (
        "_children",
        "_decoded",
        "_fields",
        "_index",
        "_lower",
        "_params",
        "_text",
        "_walks",
        "body",
        "ctype",
        "defects",
        "depth",
        "head",
    )

    def __init__(self, head: str, body: bytes, depth: int, defects: list[str]) -> None:
        self.head = head  # the header block as text; fields are read from it on demand
        self._fields: list[tuple[str, str]] | None = None
        self.body = body
        self.depth = depth
        self.defects = defects
        self._params: dict[str, str] | None = None
        self._children: list[Part] | None = None
        self._text: str | None = None
        self._decoded: bytes | None = None
        self._index: dict[str, str | None] | None = None
        self._lower: str | None = None
        self._walks: dict[bool, list[tuple[int, Part]]] | None = None
        self.ctype = self._content_type()

    # --- header access -----------------------------------------------------------------

    @property
    def fields(self) -> list[tuple[str, str]]:
        """(lower-cased name, unfolded value) of every header field, in order."""
        if self._fields is None:
            self._fields = fields_of(self.head)
        return self._fields

    @property
    def has_fields(self) -> bool:
        return bool(self.head.strip())

    @property
    def lowered_head(self) -> str:
        """ "\n" + the header block lower-cased (so index i is the header's i - 1)."""
        low = self._lower
        if low is None:
            low = self._lower = "\n" + self.head.lower()
        return low

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first `name` field, unfolded. Looked up in a lower-cased copy of the header with
        str.find, so asking a returned original for five fields never reads its fifty."""
        key = name.lower()
        index = self._index
        if index is None:
            index = self._index = {}
        elif key in index:
            found = index[key]
            return default if found is None else found
        low = self._lower
        if low is None:
            low = self._lower = "\n" + self.head.lower()
        value = find_field(self.head, low, key)
        index[key] = value
        return default if value is None else value

    def get_all(self, name: str) -> list[str]:
        key = name.lower()
        if self._fields is not None:
            return [v for k, v in self._fields if k == key]
        low = self._lower
        if low is None:
            low = self._lower = "\n" + self.head.lower()
        return find_fields(self.head, low, key, first_only=False)

    def items(self) -> list[tuple[str, str]]:
        return list(self.fields)

    def _content_type(self) -> str:
        value = self.get("content-type")
        if not value:
            return "text/plain"
        main = value.split(";", 1)[0].strip().lower()
        if main.count("/") != 1 or " " in main:
            self.defects.append("InvalidContentType")
            return "text/plain"
        return main

    @property
    def params(self) -> dict[str, str]:
        if self._params is None:
            value = self.get("content-type") or ""
            params: dict[str, str] = {}
            for name, raw in _PARAM_RE.findall(value[:4000]):
                if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
                    raw = raw[1:-1].replace('\\"', '"').replace("\\\\", "\\")
                params.setdefault(name.lower(), raw)
            self._params = params
        return self._params

    @property
    def charset(self) -> str | None:
        cs = self.params.get("charset")
        return cs.strip().lower() or None if cs else None

    # --- structure -----------------------------------------------------------------------

    @property
    def children(self) -> list[Part]:
        if self._children is None:
            self._children = self._read_children()
        return self._children

    def _read_children(self) -> list[Part]:
        if self.depth >= MAX_DEPTH:
            return []
        if self.ctype.startswith("multipart/"):
            return _split_multipart(self)
        if self.ctype in _MESSAGE_TYPES:
            body = self.decoded()
            if not body.strip():
                return []
            return [_parse_entity(body.lstrip(b"\n"), self.depth + 1)]
        return []

    @property
    def is_multipart_without_parts(self) -> bool:
        return self.ctype.startswith("multipart/") and not self.children

    # --- content -------------------------------------------------------------------------

    def decoded(self) -> bytes:
        """The body with its Content-Transfer-Encoding undone (bad encodings decoded as far as possible)."""
        if self._decoded is None:
            cte = (self.get("content-transfer-encoding") or "").strip().lower()
            body = self.body
            if cte == "base64":
                body = b64decode_lenient(body, MAX_TEXT_CHARS * 4)
            elif cte == "quoted-printable":
                try:
                    body = binascii.a2b_qp(body)
                except (binascii.Error, ValueError):
                    self.defects.append("InvalidQuotedPrintable")
            self._decoded = body
        return self._decoded

    def text(self) -> str:
        if self._text is None:
            self._text = to_text(self.decoded()[: MAX_TEXT_CHARS * 2], self.charset)[:MAX_TEXT_CHARS]
        return self._text


def _parse_entity(data: bytes, depth: int) -> Part:
    defects: list[str] = []
    m = _HEADER_END.search(data, 0, 512_000)
    if m is None:
        head_bytes, body_start = data[:512_000], None
    else:
        head_bytes, body_start = data[: m.start()], m.end()
    head = decode_header_block(head_bytes)
    start, used = header_extent(head)
    if body_start is None or used < len(head):
        # No blank line, or a non-field line inside the header: the body starts where fields stop.
        if used > start or (body_start is None and data.strip()):
            defects.append("MissingHeaderBodySeparator")
        body = head[used:].encode("utf-8", "surrogateescape") if used < len(head) else b""
        if body_start is not None:
            body += b"\n\n" + data[body_start:]
    else:
        body = data[body_start:]
    return Part(head[start:used], body, depth, defects)


def _split_multipart(part: Part) -> list[Part]:
    boundary = part.params.get("boundary", "")
    if not boundary:
        part.defects.append("NoBoundaryInMultipart")
        return []
    children: list[Part] = []
    body = part.body
    start: int | None = None
    closed = False
    for line_start, line_end, is_close in _delimiters(body, b"--" + boundary.encode("utf-8", "replace")):
        if start is not None:
            children.append(_parse_entity(body[start : max(line_start - 1, start)], part.depth + 1))
            if len(children) >= MAX_PARTS:
                break
        if is_close:
            closed = True
            start = None
            break
        start = line_end + 1
    if start is not None and not closed:  # no closing delimiter: a truncated message
        part.defects.append("CloseBoundaryNotFound")
        children.append(_parse_entity(body[start:], part.depth + 1))
    if not children:
        part.defects.append("StartBoundaryNotFound")
    return children


def _delimiters(body: bytes, marker: bytes) -> Iterator[tuple[int, int, bool]]:
    """(line start, line end, is closing) of each boundary line: "--b" or "--b--", then blanks."""
    pos = 0 if body.startswith(marker) else body.find(b"\n" + marker)
    while pos != -1:
        line_start = pos if pos == 0 and body.startswith(marker) else pos + 1
        line_end = body.find(b"\n", line_start)
        if line_end == -1:
            line_end = len(body)
        rest = body[line_start + len(marker) : line_end].rstrip(b" \t")
        if rest in (b"", b"--"):
            yield line_start, line_end, rest == b"--"
        pos = body.find(b"\n" + marker, line_end)


def parse_bytes(raw: bytes) -> Part:
    """Parse raw message bytes; truncated, binary or boundary-less input still gives a Part."""
    data = normalise_newlines(raw[:MAX_PARSE_BYTES])
    # Blank lines (or a byte-order mark) before the header, as left by tools that save or
    # forward mail, would otherwise end an empty header at once and make it all body.
    lead = _LEADING_BLANK_RE.match(data)
    return _parse_entity(data[lead.end() :] if lead else data, 0)


def headers_from_text(text: str) -> Part:
    """A header block given as text (text/rfc822-headers, inline copies), as a Part."""
    block = text[:MAX_TEXT_CHARS].replace("\r\n", "\n")
    start, end = header_extent(block)
    return Part(block[start:end], b"", MAX_DEPTH, [])


def header(part: Part, name: str) -> str:
    """The first `name` header of `part`, decoded ("" when absent)."""
    value = part.get(name)
    return decode_header_value(value) if value is not None else ""


def content_type(part: Part) -> str:
    return part.ctype


def part_text(part: Part) -> str:
    """The decoded text of a part (transfer encoding and charset undone), capped."""
    return part.text()


def iter_parts(root: Part, into_messages: bool = False) -> Iterator[tuple[int, Part]]:
    """Every part under `root` depth-first with its depth, iteratively, bounded in count.

    Attached messages (message/rfc822) are entered only with `into_messages`: the returned
    original is usually the largest part and rarely holds anything a bounce parser wants."""
    walks = root._walks
    if walks is None:
        walks = root._walks = {}
    walk = walks.get(into_messages)
    if walk is None:  # walked once per root and flavour, then replayed
        walk = walks[into_messages] = list(_walk(root, into_messages))
    return iter(walk)


def _walk(root: Part, into_messages: bool) -> Iterator[tuple[int, Part]]:
    stack: list[Part] = [root]
    seen = 0
    while stack and seen < MAX_PARTS:
        part = stack.pop()
        seen += 1
        yield part.depth - root.depth, part
        if into_messages or part.ctype not in _MESSAGE_TYPES or part is root:
            stack.extend(reversed(part.children))
