"""The link between an acceptor process and the daemon: length-prefixed pickled messages.

Both ends are bounced processes started by the daemon over a socketpair it made, so pickle
carries trusted data only; nothing that arrives by SMTP is unpickled, it rides as bytes.

Messages, acceptor -> daemon: `Ready`, `SpoolRequest`, `Replies` (new reply counts, for /metrics),
`Configured` (a reload's settings applied), `Stopped`. Daemon -> acceptor: `Configure`
(first, and on each reload), `Stored`, `Refused`, `Stop`.
"""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import struct
from dataclasses import dataclass

from bounced.config.smtp import SmtpConfig
from bounced.pickling import pickled_by_constructor

__all__ = [
    "AcceptorMessage",
    "Configure",
    "Configured",
    "DaemonMessage",
    "FrameWriter",
    "LinkClosed",
    "Ready",
    "Refused",
    "Replies",
    "SpoolRequest",
    "Stop",
    "Stopped",
    "Stored",
    "read_frame",
]


# --- acceptor -> daemon --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ready:
    """Listening: the daemon's start (or restart) of this acceptor is done."""


@pickled_by_constructor
@dataclass(frozen=True, slots=True)
class SpoolRequest:
    """A received message to make durable; answered by `Stored` or `Refused` with `seq`."""

    seq: int
    mail_from: str
    rcpt_tos: tuple[str, ...]
    peer: str
    raw: bytes


@dataclass(frozen=True, slots=True)
class Replies:
    counts: dict[tuple[str, str], int]  # {(outcome, code): n} since the last report


@dataclass(frozen=True, slots=True)
class Configured:
    """The settings of the last `Configure` are applied (a reload returns after this)."""


@dataclass(frozen=True, slots=True)
class Stopped:
    """Stopping on purpose (a signal or `Stop`), not crashing."""


# --- daemon -> acceptor --------------------------------------------------------------------


@pickled_by_constructor
@dataclass(frozen=True, slots=True)
class Configure:
    settings: SmtpConfig
    log_level: str


@pickled_by_constructor
@dataclass(frozen=True, slots=True)
class Stored:
    seq: int
    intake_id: int


@pickled_by_constructor
@dataclass(frozen=True, slots=True)
class Refused:
    seq: int
    why: Exception | str  # the daemon's SpoolError (SpoolFullError gets 452), else its text


@dataclass(frozen=True, slots=True)
class Stop:
    grace: float  # seconds in-flight sessions get


AcceptorMessage = Ready | SpoolRequest | Replies | Configured | Stopped
DaemonMessage = Configure | Stored | Refused | Stop
_MESSAGES = (Ready, SpoolRequest, Replies, Configured, Stopped, Configure, Stored, Refused, Stop)

_LENGTH = struct.Struct("!I")  # a frame holds at most one message (smtp.max_message_size)


class LinkClosed(Exception):
    """The other end has gone (exited, crashed, or closed the link)."""


class FrameWriter:
    """Frames sent in one turn of the event loop leave in one write: a group commit answers
    many spools at once, and one syscall for all of them is cheaper than one each."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self._parts: list[bytes] = []

    def send(self, frame: AcceptorMessage | DaemonMessage) -> None:
        """Queue `frame`; it goes out at the end of this loop turn. A link that is gone
        drops it: the reader at that end has seen `LinkClosed` already."""
        payload = pickle.dumps(frame, protocol=pickle.HIGHEST_PROTOCOL)
        if not self._parts:
            asyncio.get_running_loop().call_soon(self._flush)
        self._parts += (_LENGTH.pack(len(payload)), payload)

    def _flush(self) -> None:
        parts, self._parts = self._parts, []
        if self.writer.is_closing():
            return
        with contextlib.suppress(ConnectionError, RuntimeError):  # closed under us: its
            self.writer.writelines(parts)  # reader sees LinkClosed

    async def drain(self) -> None:
        """Back-pressure: wait while the other end is not reading."""
        await self.writer.drain()

    def close(self) -> None:
        self._flush()
        self.writer.close()


async def read_frame(reader: asyncio.StreamReader) -> AcceptorMessage | DaemonMessage:
    try:
        (length,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
        frame = pickle.loads(await reader.readexactly(length))
    except (asyncio.IncompleteReadError, ConnectionError) as exc:
        raise LinkClosed(str(exc) or "link closed") from None
    if not isinstance(frame, _MESSAGES):
        raise LinkClosed(f"malformed frame: {type(frame).__name__}")
    return frame
