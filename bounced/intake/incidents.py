"""Spool failures come in runs (a full disk, a database locked past `busy_timeout`, an I/O
error): one log line when a run starts, one when it ends, not one per refused message.

The listener refuses every message of a run with a 4xx (the sender keeps it and retries),
so a flood of mail during a full disk would otherwise be a flood of identical tracebacks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from bounced.errors import SpoolFullError
from bounced.logfmt import kv

__all__ = ["SpoolIncidents", "refusal_reply"]

log = logging.getLogger("bounced.intake.spool")

FULL_REPLY = "452 4.3.1 Insufficient system storage, try again later"
FAILED_REPLY = "451 4.3.0 Message not stored, try again later"


def refusal_reply(exc: BaseException) -> str:
    """The 4xx for a message that could not be made durable (RFC 3463: 4.3.1 is "mail
    system full", 4.3.0 any other mail system problem). Never 5xx: the sender must retry."""
    return FULL_REPLY if isinstance(exc, SpoolFullError) else FAILED_REPLY


class SpoolIncidents:
    """Counts refusals; logs the first of a run (with its cause) and the recovery."""

    def __init__(self, level: int = logging.ERROR, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.level = level
        self.monotonic = monotonic
        self.refused = 0  # in the current run
        self.incidents = 0  # runs so far (tests, metrics)
        self._reply: str | None = None
        self._started = 0.0

    def refused_one(self, exc: BaseException, peer: str, size: int) -> str:
        """Record a refusal; returns the reply for it. Logs when a run starts, or when the
        cause changes kind within one (locked, then full)."""
        reply = refusal_reply(exc)
        if self._reply != reply:
            if self._reply is None:
                self.incidents += 1
                self._started = self.monotonic()
            log.log(
                self.level,
                "spool failing: messages refused with 4xx until it recovers",
                exc_info=exc,
                extra=kv(reply=reply[:9], error=str(exc), peer=peer, size=size),
            )
            self._reply = reply
        self.refused += 1
        return reply

    def stored_one(self) -> None:
        """A message was made durable: a run of refusals, if any, is over."""
        if self._reply is None:
            return
        log.log(
            logging.WARNING if self.level > logging.WARNING else self.level,
            "spool recovered",
            extra=kv(refused=self.refused, seconds=f"{self.monotonic() - self._started:.1f}"),
        )
        self._reply = None
        self.refused = 0
