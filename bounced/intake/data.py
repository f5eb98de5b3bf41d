"""The DATA phase of an SMTP session: bytes up to `<CRLF>.<CRLF>`, into the stored message.

- The end of data is `<CRLF>.<CRLF>` and nothing else (RFC 5321 4.1.1.4). `<LF>.<LF>`,
  `<LF>.<CRLF>`, `<CRLF>.<LF>` and `<CR>.<CR>` inside a message are content: treating any of
  them as the end lets a client smuggle a second message past a filter that reads the
  stream differently (CVE-2023-51764 family, aiosmtpd CVE-2024-27305).
- A bare LF ends a line and is stored as CRLF (Postfix's `smtpd_forbid_bare_newline =
  normalize`): the same bounce sent with LF, CRLF or mixed endings is stored as the same
  bytes, so it has one dedup hash and one parse result. A bare CR is content.
- Dot-stuffing (RFC 5321 4.5.2) is undone at every line start, after a bare LF too
  (`smtplib` stuffs there). A line of exactly one dot that is not the end of data (a bare
  LF on one side) was not stuffed by its client, and keeps its dot.
- The client must end the data with CRLF; after a last line ended by a bare LF it adds one
  (`foo<LF><CRLF>.<CRLF>`). When that is the data's only CRLF (an LF client), it is the
  end of the last line, not an empty line, so an LF message is stored exactly as its CRLF
  twin. With mixed endings it stays an empty line: whether the client added it or meant it
  cannot be told, and keeping a line loses nothing.
- No line-length limit: real bounces carry lines over 998 bytes (RFC 5321 4.5.3.1.6 is a
  limit for senders; refusing would lose the bounce). Long lines are stored as received.
- `max_message_size` bounds the stored message (RFC 1870 counts CRLF pairs and not the
  stuffed dots); larger gets 552, and memory stays bounded by it whatever the client sends.
"""

from __future__ import annotations

import asyncio
import re

__all__ = ["DataSink", "read_data"]

# The end of data: a line holding a lone dot. Its CRLF is the previous line's end, which
# for an empty message is the DATA command's.
_END = b"\r\n.\r\n"
_END_PREFIXES = (_END[:4], _END[:3], _END[:2], _END[:1])
_STUFFED_DOT = re.compile(rb"(?:^|(?<=\n))\.(?!\r?\n)")
_BARE_LF = re.compile(rb"(?<!\r)\n")
# Bytes the stored message may still lose after the streaming count: the client's closing
# CRLF after a bare LF (2) and a stuffed dot at the start of the unfinished line (1).
_SLACK = 3


def normalise_lines(block: bytes, crlfs: int) -> bytes:
    """`block` (whole lines, starting at a line start, `crlfs` of them ended by CRLF) with
    dots unstuffed and bare LFs turned into CRLF."""
    if block.startswith(b".") or b"\n." in block:
        block = _STUFFED_DOT.sub(b"", block)  # a dot is no line end: `crlfs` holds
    if block.count(b"\n") != crlfs:
        block = _BARE_LF.sub(b"\r\n", block)
    return block


class DataSink:
    """Takes the data in pieces cut anywhere and keeps it normalised, line by line; stops
    keeping it once it cannot fit `size_limit`, so memory stays bounded."""

    __slots__ = ("crlfs", "ending", "kept", "size", "size_limit", "tail", "tail_size", "too_much")

    def __init__(self, size_limit: int | None) -> None:
        self.size_limit = size_limit
        self.too_much = False
        self.kept: list[bytes] = []  # normalised complete lines
        self.size = 0  # bytes in `kept`
        self.tail: list[bytes] = []  # raw pieces of the line not ended yet (no LF in them)
        self.tail_size = 0
        self.ending = b""  # the last raw bytes: is the data's final CRLF after a bare LF?
        self.crlfs = 0  # line ends received as CRLF

    def feed(self, piece: bytes) -> None:
        if self.too_much or not piece:
            return
        cut = piece.rfind(b"\n") + 1
        if cut:
            block = piece[:cut] if cut < len(piece) else piece
            if self.tail:
                block = b"".join([*self.tail, block])
                self.tail.clear()
                self.tail_size = 0
            self.ending = (self.ending + block[-4:])[-4:]
            crlfs = block.count(b"\r\n")
            self.crlfs += crlfs
            block = normalise_lines(block, crlfs)
            self.kept.append(block)
            self.size += len(block)
            piece = piece[cut:]
        if piece:  # a long line is kept in pieces: no copy of it per piece
            self.tail.append(piece)
            self.tail_size += len(piece)
        if self.size_limit and self.size + self.tail_size - _SLACK > self.size_limit:
            self._drop()

    def _drop(self) -> None:
        self.too_much = True
        self.kept.clear()
        self.tail.clear()

    def content(self) -> bytes | None:
        """The stored message, or None when it is larger than the size limit."""
        if self.too_much:
            return None
        data = b"".join([*self.kept, *self.tail])  # the tail is empty: data ends with CRLF
        if self.crlfs == 1 and self.ending.endswith(b"\n\r\n") and not self.ending.endswith(b"\r\n\r\n"):
            data = data[:-2]  # an LF client's closing CRLF
        if self.size_limit and len(data) > self.size_limit:
            self._drop()
            return None
        return data


def _end_prefix_len(window: bytes) -> int:
    """Length of the longest end of `window` that could be the start of `_END`."""
    for prefix in _END_PREFIXES:
        if window.endswith(prefix):
            return len(prefix)
    return 0


async def read_data(reader: asyncio.StreamReader, sink: DataSink) -> None:
    """Feed `sink` everything up to `<CRLF>.<CRLF>` and consume nothing after it: a client
    may pipeline its next command. The first `_END` in the stream (counting the DATA
    command's CRLF) is the end, as in aiosmtpd."""
    # Bytes taken from the stream that may begin `_END`, not fed yet. At the start this is
    # the DATA command's CRLF, which is not data.
    held, held_is_data = b"\r\n", False
    while True:
        if held:
            # Exactly what completes `_END`: no terminator can end before that, so this
            # never reads past one.
            window = held + await reader.readexactly(len(_END) - len(held))
            if window == _END:
                sink.feed(window[:2] if held_is_data else b"")
                return
            keep = _end_prefix_len(window)
            sink.feed(window[0 if held_is_data else len(held) : len(window) - keep])
            held, held_is_data = (window[len(window) - keep :] if keep else b""), True
            continue
        try:
            piece = await reader.readuntil(_END)
        except asyncio.LimitOverrunError as error:
            # Not within the reader's limit: take what cannot hold the start of `_END`
            # (readuntil leaves len(_END) - 1 bytes, or stops right before `_END`).
            sink.feed(await reader.readexactly(error.consumed))
            continue
        sink.feed(piece[:-3])  # the CRLF ends the last line; ".\r\n" is not data
        return
