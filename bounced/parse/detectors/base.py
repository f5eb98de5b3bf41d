"""The detector interface: one format per detector, tried in `DETECTORS` order.

A detector reads the `Context` of one message and returns a `Detection` when the message is
its format (which ends the scan), or None to let the next detector look. It never writes to
the context: what it found is all in the `Detection`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol

from bounced.model import Failure, MessageType, OriginalMessage
from bounced.parse.context import Context

__all__ = ["Detection", "Detector", "failed"]


class Detection(NamedTuple):  # a tuple: built once per message, on the hot path
    kind: MessageType
    failures: Sequence[Failure]
    # When the detector knows the returned original better than `Context.original`
    # (an auto-reply answers the message its In-Reply-To names).
    original: OriginalMessage | None = None


class Detector(Protocol):
    name: str

    def detect(self, ctx: Context) -> Detection | None: ...


def failed(failures: Sequence[Failure]) -> Detection | None:
    """A delivery report of `failures`, or None (not this format) when there are none."""
    return Detection(MessageType.DSN, failures) if failures else None
