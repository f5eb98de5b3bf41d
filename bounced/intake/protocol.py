"""aiosmtpd's SMTP protocol, adjusted for a busy bounce MX.

- A connection limit (421 at connect) and a budget for the whole DATA phase.
- Cheap construction: aiosmtpd's `SMTP.__init__` introspects the class and handler
  (`inspect.getmembers`, `dir`) for every connection, a tenth of the CPU of a one-message
  session. `BounceSMTP.clone()` copies a template built once by the real `__init__` and
  redoes only the per-connection parts.
- Multi-line replies (EHLO) go out in one write instead of one syscall per line.
- A fast path for plain `<local@domain>` addresses; aiosmtpd's `_getaddr` defines a
  Protocol class on every call and runs the full RFC 5322 parser.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import re
from typing import TYPE_CHECKING, Any

from aiosmtpd.smtp import SMTP, _AuthMechAttr, syntax

from bounced.logfmt import kv

if TYPE_CHECKING:
    from bounced.intake.listener import Listener

__all__ = ["BounceSMTP"]

log = logging.getLogger("bounced.intake.listener")

# Angle-bracketed address with nothing RFC 5322 would treat specially (or the null path).
_PLAIN_ADDRESS = re.compile(r"<((?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+)?)>")


def _protocol_keys(loop: asyncio.AbstractEventLoop) -> frozenset[str]:
    """Attributes `StreamReaderProtocol.__init__` sets: per connection, never shared."""
    probe = asyncio.StreamReaderProtocol(asyncio.StreamReader(loop=loop), lambda r, w: None, loop=loop)
    return frozenset(vars(probe))


class BounceSMTP(SMTP):
    def __init__(self, handler: Any, listener: Listener, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
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
                assert isinstance(transport, asyncio.WriteTransport)
                transport.write(b"421 4.7.0 Too many connections, try again later\r\n")
                transport.close()
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
        try:
            assert isinstance(transport, asyncio.WriteTransport)
            transport.write(reply)
        except (OSError, RuntimeError, AssertionError):
            pass  # the peer is gone already; closing is all that is left
        transport.close()

    # --- commands -----------------------------------------------------------------

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        # The idle timer is only reset between commands; give DATA its own budget.
        self._reset_timeout(self._data_timeout)
        try:
            await super().smtp_DATA(arg)
        finally:
            if self.transport is not None:
                self._reset_timeout()

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
