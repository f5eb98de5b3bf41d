"""The link between an acceptor process and the daemon: length-prefixed pickled frames.

Both ends are bounced processes started by the daemon over a socketpair it made, so pickle
carries trusted data only; nothing that arrives by SMTP is unpickled, it rides as bytes.

Frames, acceptor -> daemon: ("ready",), ("spool", seq, mail_from, rcpt_tos, peer, raw),
("replies", {(outcome, code): n}) (new reply counts, for /metrics), ("stopped",).
Daemon -> acceptor: ("config", SmtpConfig, log_level), ("stored", seq,
intake_id), ("refused", seq, why), ("stop", grace).
"""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import struct
from typing import Any

__all__ = ["FrameWriter", "LinkClosed", "read_frame"]

_LENGTH = struct.Struct("!I")  # a frame holds at most one message (smtp.max_message_size)


class LinkClosed(Exception):
    """The other end has gone (exited, crashed, or closed the link)."""


class FrameWriter:
    """Frames sent in one turn of the event loop leave in one write: a group commit answers
    many spools at once, and one syscall for all of them is cheaper than one each."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self._parts: list[bytes] = []

    def send(self, frame: tuple[Any, ...]) -> None:
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


async def read_frame(reader: asyncio.StreamReader) -> tuple[Any, ...]:
    try:
        (length,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
        frame = pickle.loads(await reader.readexactly(length))
    except (asyncio.IncompleteReadError, ConnectionError) as exc:
        raise LinkClosed(str(exc) or "link closed") from None
    if not isinstance(frame, tuple) or not frame or not isinstance(frame[0], str):
        raise LinkClosed(f"malformed frame: {type(frame).__name__}")
    return frame
