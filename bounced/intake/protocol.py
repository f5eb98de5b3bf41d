"""aiosmtpd's SMTP protocol, adjusted for a busy bounce MX.

- Connection limits, total and per client address (421 at connect, `bounced.intake.limits`),
  a limit on commands without a DATA, and a budget for the whole DATA phase.
- Cheap construction: aiosmtpd's `SMTP.__init__` introspects the class and handler
  (`inspect.getmembers`, `dir`) for every connection, a tenth of the CPU of a one-message
  session. `BounceSMTP.clone()` copies a template built once by the real `__init__` and
  redoes only the per-connection parts.
- Multi-line replies (EHLO) go out in one write instead of one syscall per line.
- A fast path for plain `<local@domain>` addresses; aiosmtpd's `_getaddr` defines a
  Protocol class on every call and runs the full RFC 5322 parser.
- DATA read in large pieces up to `<CRLF>.<CRLF>` instead of one `readuntil` and a dozen
  Python operations per line, with aiosmtpd's replies; bare LF, long lines and the size
  limit as `bounced.intake.data` says.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import re
from collections.abc import Callable
from typing import Any, Protocol, cast

from aiosmtpd.smtp import MISSING, SMTP, _AuthMechAttr, syntax

from bounced.config.smtp import SmtpConfig
from bounced.intake.data import DataSink, read_data
from bounced.intake.limits import ConnectionCounts, refusal
from bounced.intake.replies import ReplyTally, reply_code
from bounced.logfmt import kv

__all__ = ["BounceSMTP", "SessionHost"]

log = logging.getLogger("bounced.intake.listener")

# Angle-bracketed address with nothing RFC 5322 would treat specially (or the null path).
_PLAIN_ADDRESS = re.compile(r"<((?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+)?)>")


def _protocol_keys(loop: asyncio.AbstractEventLoop) -> frozenset[str]:
    """Attributes `StreamReaderProtocol.__init__` sets: per connection, never shared."""
    probe = asyncio.StreamReaderProtocol(asyncio.StreamReader(loop=loop), lambda r, w: None, loop=loop)
    return frozenset(vars(probe))


class SessionHost(Protocol):
    """What a session needs from the server that runs it (`intake.listener.Listener`): the
    current settings, the connection counts, the reply tally and the open sessions."""

    settings: Callable[[], SmtpConfig]
    counts: ConnectionCounts
    replies: ReplyTally
    connections: set[BounceSMTP]


class BounceSMTP(SMTP):
    def __init__(self, handler: Any, listener: SessionHost, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        if "DATA" not in self._handle_hooks:  # our DATA has no deprecated process_message path
            raise TypeError("the handler must implement handle_DATA")
        self._listener = listener
        self._refused = False
        self._counted = False
        self._address = ""
        self._replies = 0
        self._max_commands = 0
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
        new._replies = 0
        new._shared_keys = self._shared_keys
        new.command_size_limits = collections.defaultdict(lambda: SMTP.command_size_limit)
        return new

    # --- connection accounting ----------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._original_transport is None and not self._counted:  # not the STARTTLS re-entry
            cfg = self._listener.settings()
            peer = transport.get_extra_info("peername")
            self._address = str(peer[0]) if isinstance(peer, tuple) else str(peer or "")
            counts = self._listener.counts
            reply = refusal(counts, self._address, cfg.max_connections, cfg.max_connections_per_ip)
            if reply is not None:
                self._refused = True
                why = reply[:-2].decode()
                log.warning("connection refused: limit reached", extra=kv(peer=peer, reply=why))
                # uvloop's transports are not asyncio.WriteTransport subclasses: no isinstance.
                writer = cast(asyncio.WriteTransport, transport)
                self._listener.replies.refused("421")
                writer.write(reply)
                writer.close()
                return
            self._counted = True
            counts.add(self._address, 1)
            self._listener.connections.add(self)
            self._max_commands = cfg.max_commands
            self._replies = -1  # the greeting is no command's reply
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self._refused:
            return
        if self._counted:
            self._counted = False
            self._listener.counts.add(self._address, -1)
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
        """aiosmtpd's `SMTP.smtp_DATA` (1.4.6), reading the data with `read_data`."""
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
        self._replies = 0  # a session that sends mail may send more commands (not a bare DATA)
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        sink = DataSink(self.data_size_limit)
        try:
            await read_data(self._reader, sink)
        except asyncio.CancelledError:
            # The connection got reset during DATA (eof_received / connection_lost cancel us).
            log.info("connection lost during DATA")
            self._writer.close()
            raise
        original_content = sink.content()
        # Replies for bad data only now that all of it is read (RFC 5321 4.2.5).
        if original_content is None:
            await self.push("552 Error: Too much mail data")
            self._set_post_data_state()
            return
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
        self._replies += 1  # one final reply per command
        if self._max_commands and self._replies > self._max_commands and self.transport is not None:
            # Commands without ever a DATA: a probe or a stuck client, not a bounce.
            log.warning("connection closed: too many commands", extra=kv(peer=self._address))
            self._listener.replies.refused("421")
            self.close_now(b"421 4.7.0 Too many commands without a message, closing\r\n")
            # End the session now: pipelined commands are already buffered and would run
            # without a pause. aiosmtpd's loop treats this as the connection lost.
            raise asyncio.CancelledError
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
