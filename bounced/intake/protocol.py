"""aiosmtpd's SMTP protocol, adjusted for a busy bounce MX.

- A connection limit (421 at connect) and a budget for the whole DATA phase.
- Cheap construction: aiosmtpd's `SMTP.__init__` introspects the class and handler
  (`inspect.getmembers`, `dir`) for every connection, a tenth of the CPU of a one-message
  session. `BounceSMTP.clone()` copies a template built once by the real `__init__` and
  redoes only the per-connection parts.
- Multi-line replies (EHLO) go out in one write instead of one syscall per line.
- A fast path for plain `<local@domain>` addresses; aiosmtpd's `_getaddr` defines a
  Protocol class on every call and runs the full RFC 5322 parser.
- DATA read in large pieces up to `<CRLF>.<CRLF>` instead of one `readuntil` and a dozen
  Python operations per line, with aiosmtpd's replies, limits and stored bytes.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import re
from typing import TYPE_CHECKING, Any, cast

from aiosmtpd.smtp import MISSING, SMTP, _AuthMechAttr, _DataState, syntax

from bounced.intake.replies import reply_code
from bounced.logfmt import kv

if TYPE_CHECKING:
    from bounced.intake.listener import Listener

__all__ = ["BounceSMTP"]

log = logging.getLogger("bounced.intake.listener")

# Angle-bracketed address with nothing RFC 5322 would treat specially (or the null path).
_PLAIN_ADDRESS = re.compile(r"<((?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+)?)>")


# The end of data: a line holding a lone dot (RFC 5321 4.1.1.4). Its CRLF is the previous
# line's end, which for an empty message is the DATA command's.
_END = b"\r\n.\r\n"
_END_PREFIXES = (_END[:4], _END[:3], _END[:2], _END[:1])


def _end_prefix_len(window: bytes) -> int:
    """Length of the longest end of `window` that could be the start of `_END`."""
    for prefix in _END_PREFIXES:
        if window.endswith(prefix):
            return len(prefix)
    return 0


def _check_lines(block: bytes, counted: int, size_limit: int | None, line_limit: int) -> _DataState:
    """The state after the CRLF-ended lines of `block`, in the order aiosmtpd checks them.

    aiosmtpd reads a line with a StreamReader whose limit is `line_length_limit`: a line
    longer than that plus CRLF raises LimitOverrunError before its bytes are counted (500 wins),
    a shorter one is counted first (552 wins if it also crosses the size limit)."""
    parts = block.split(b"\r\n")
    parts.pop()  # the empty rest after the last CRLF
    if max(map(len, parts)) + 2 <= line_limit and not (size_limit and counted + len(block) > size_limit):
        return _DataState.NOMINAL
    for part in parts:
        length = len(part) + 2
        if length > line_limit + 2:
            return _DataState.TOO_LONG
        counted += length
        if size_limit and counted > size_limit:
            return _DataState.TOO_MUCH
        if length > line_limit:
            return _DataState.TOO_LONG
    raise AssertionError("unreachable: the fast check found a bad line")


class _DataSink:
    """Takes the data in pieces cut anywhere; keeps it only while it can still be accepted, so
    memory stays bounded by the size limit (plus one line) whatever the client sends."""

    __slots__ = ("counted", "kept", "line_limit", "partial", "size_limit", "state")

    def __init__(self, size_limit: int | None, line_limit: int) -> None:
        self.size_limit = size_limit
        self.line_limit = line_limit
        self.state = _DataState.NOMINAL
        self.kept: list[bytes] = []  # complete lines
        self.partial = b""  # the line not ended yet
        self.counted = 0  # bytes in `kept`

    def feed(self, piece: bytes) -> None:
        if self.state is not _DataState.NOMINAL or not piece:
            return
        text = self.partial + piece if self.partial else piece
        cut = text.rfind(b"\r\n") + 2
        if cut > 1:
            block = text[:cut] if cut < len(text) else text
            self.state = _check_lines(block, self.counted, self.size_limit, self.line_limit)
            self.counted += len(block)
            self.kept.append(block)
            text = text[cut:]
        if self.state is not _DataState.NOMINAL:
            self.kept.clear()
            self.partial = b""
        elif len(text) > self.line_limit + 2:  # longer than aiosmtpd's reader takes in one piece
            self.state = _DataState.TOO_LONG
            self.kept.clear()
            self.partial = b""
        else:
            self.partial = text

    def content(self) -> bytes:
        """The message without its dot-stuffing: a line beginning with '.' loses that dot."""
        data = b"".join(self.kept)
        if b"\r\n." in data:
            data = data.replace(b"\r\n.", b"\r\n")
        return data[1:] if data.startswith(b".") else data


def _protocol_keys(loop: asyncio.AbstractEventLoop) -> frozenset[str]:
    """Attributes `StreamReaderProtocol.__init__` sets: per connection, never shared."""
    probe = asyncio.StreamReaderProtocol(asyncio.StreamReader(loop=loop), lambda r, w: None, loop=loop)
    return frozenset(vars(probe))


class BounceSMTP(SMTP):
    def __init__(self, handler: Any, listener: Listener, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        if "DATA" not in self._handle_hooks:  # our DATA has no deprecated process_message path
            raise TypeError("the handler must implement handle_DATA")
        self._listener = listener
        self._refused = False
        self._counted = False
        self._data_timeout = listener.settings().data_timeout
        self._pending_lines: list[bytes] = []
        # aiosmtpd keeps this at class level and grows it on every EHLO; keep it per session.
        self.command_size_limits = collections.defaultdict(lambda: SMTP.command_size_limit)
        self._shared_keys = frozenset(vars(self)) - _protocol_keys(self.loop)

    def clone(self) -> BounceSMTP:
        """A fresh protocol for a new connection, without aiosmtpd's per-call introspection."""
        new = object.__new__(type(self))
        new.__dict__.update({k: v for k, v in vars(self).items() if k in self._shared_keys})
        asyncio.StreamReaderProtocol.__init__(
            new,
            asyncio.StreamReader(loop=self.loop, limit=self.line_length_limit),
            client_connected_cb=new._cb_client_connected,
            loop=self.loop,
        )
        # Bound methods must be bound to the new instance, not the template.
        new._smtp_methods = {name: getattr(new, f"smtp_{name}") for name in self._smtp_methods}
        new._auth_methods = {
            name: _AuthMechAttr(getattr(new, attr.method.__name__), True) if attr.is_builtin else attr
            for name, attr in self._auth_methods.items()
        }
        new._pending_lines = []
        new._shared_keys = self._shared_keys
        new.command_size_limits = collections.defaultdict(lambda: SMTP.command_size_limit)
        return new

    # --- connection accounting ----------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._original_transport is None and not self._counted:  # not the STARTTLS re-entry
            if len(self._listener.connections) >= self._listener.settings().max_connections:
                self._refused = True
                peer = transport.get_extra_info("peername")
                log.warning("connection refused: limit reached", extra=kv(peer=peer))
                # uvloop's transports are not asyncio.WriteTransport subclasses: no isinstance.
                writer = cast(asyncio.WriteTransport, transport)
                writer.write(b"421 4.7.0 Too many connections, try again later\r\n")
                self._listener.replies.refused("421")
                writer.close()
                return
            self._counted = True
            self._listener.connections.add(self)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self._refused:
            return
        self._listener.connections.discard(self)
        super().connection_lost(error)

    def close_now(self, reply: bytes) -> None:
        transport = self.transport
        if transport is None:
            return
        with contextlib.suppress(OSError, RuntimeError):  # the peer is gone: just close
            cast(asyncio.WriteTransport, transport).write(reply)
        transport.close()

    # --- commands -----------------------------------------------------------------

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        # The idle timer is only reset between commands; give DATA its own budget.
        self._reset_timeout(self._data_timeout)
        try:
            await self._receive_data(arg)
        finally:
            if self.transport is not None:
                self._reset_timeout()

    async def _receive_data(self, arg: str) -> None:
        """aiosmtpd's `SMTP.smtp_DATA` (1.4.6), reading the data in large pieces."""
        if await self.check_helo_needed():
            return
        if await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        sink = _DataSink(self.data_size_limit, self.line_length_limit)
        try:
            await self._read_data(sink)
        except asyncio.CancelledError:
            # The connection got reset during DATA (eof_received / connection_lost cancel us).
            log.info("connection lost during DATA")
            self._writer.close()
            raise
        # Replies for bad data only now that all of it is read (RFC 5321 4.2.5).
        if sink.state is _DataState.TOO_LONG:
            await self.push("500 Line too long (see RFC5321 4.5.3.1.6)")
            self._set_post_data_state()
            return
        if sink.state is _DataState.TOO_MUCH:
            await self.push("552 Error: Too much mail data")
            self._set_post_data_state()
            return
        original_content = sink.content()
        content: str | bytes = original_content
        if self._decode_data:
            if self.enable_SMTPUTF8:
                content = original_content.decode("utf-8", errors="surrogateescape")
            else:
                try:
                    content = original_content.decode("ascii", errors="strict")
                except UnicodeDecodeError:
                    await self.push("500 Error: strict ASCII mode")
                    return
        self.envelope.content = content
        self.envelope.original_content = original_content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        reply = "250 OK" if status is MISSING else status
        await self.push(reply)
        if reply[:1] == "2":
            self._listener.replies.accepted(reply[:3])

    async def _read_data(self, sink: _DataSink) -> None:
        """Feed `sink` everything up to `<CRLF>.<CRLF>` and consume nothing after it: a client
        may pipeline its next command. Only a CRLF, a dot and a CRLF end the data; every CRLF
        in the stream is a line end, so the first `_END` is the one aiosmtpd stops at."""
        reader = self._reader
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

    async def push(self, status: str | bytes) -> None:
        line = (
            status.encode("utf-8" if self.enable_SMTPUTF8 else "ascii") if isinstance(status, str) else status
        )
        if line[3:4] == b"-":  # a continuation line: send it with the last line of the reply
            self._pending_lines.append(line)
            return
        if self._pending_lines:
            line = b"\r\n".join([*self._pending_lines, line])
            self._pending_lines.clear()
        if line[:1] in (b"4", b"5"):
            self._listener.replies.refused(reply_code(line) or line[:3].decode("ascii", "replace"))
        self._writer.write(line + b"\r\n")
        await self._writer.drain()

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        text = arg.lstrip() if arg else ""
        match = _PLAIN_ADDRESS.match(text)
        if match is not None:
            rest = text[match.end() :]
            if not match.group(1):  # the null path; aiosmtpd leaves its rest unstripped
                return "<>", rest
            local = match.group(1).rpartition("@")[0]
            rest = rest.lstrip()  # the RFC 5322 parser eats the blanks after '>' ...
            if not rest.startswith("(") and not (
                self.local_part_limit and len(local) > self.local_part_limit
            ):
                return match.group(1), rest  # ... and comments, left to it
        return super()._getaddr(arg)
