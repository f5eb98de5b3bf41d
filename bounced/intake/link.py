"""The link between an acceptor process and the daemon: length-prefixed pickled frames.

Both ends are bounced processes started by the daemon over a socketpair it made, so pickle
carries trusted data only; nothing that arrives by SMTP is unpickled, it rides as bytes.

Frames, acceptor -> daemon: ("ready",), ("spool", seq, mail_from, rcpt_tos, peer, raw),
("stopped",). Daemon -> acceptor: ("config", SmtpConfig, log_level), ("stored", seq,
intake_id), ("refused", seq, why), ("stop", grace).
"""

from __future__ import annotations

import asyncio
import pickle
import struct
from typing import Any

__all__ = ["LinkClosed", "read_frame", "write_frame"]

_LENGTH = struct.Struct("!I")  # a frame holds at most one message (smtp.max_message_size)


class LinkClosed(Exception):
    """The other end has gone (exited, crashed, or closed the link)."""


def write_frame(writer: asyncio.StreamWriter, frame: tuple[Any, ...]) -> None:
    payload = pickle.dumps(frame, protocol=pickle.HIGHEST_PROTOCOL)
    writer.writelines((_LENGTH.pack(len(payload)), payload))


async def read_frame(reader: asyncio.StreamReader) -> tuple[Any, ...]:
    try:
        (length,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
        frame = pickle.loads(await reader.readexactly(length))
    except (asyncio.IncompleteReadError, ConnectionError) as exc:
        raise LinkClosed(str(exc) or "link closed") from None
    if not isinstance(frame, tuple) or not frame or not isinstance(frame[0], str):
        raise LinkClosed(f"malformed frame: {type(frame).__name__}")
    return frame
