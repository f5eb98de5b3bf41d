"""Attribution: which of our deliveries a bounce is about (the sending side implements it)."""

from __future__ import annotations

from typing import Protocol

from bounced.model import Attribution, IntakeMessage, ParsedMessage

__all__ = ["Attributor"]


class Attributor(Protocol):
    async def attribute(self, intake: IntakeMessage, parsed: ParsedMessage) -> Attribution | None:
        """The delivery a bounce refers to, or None when it cannot tell.

        `Attribution.signed` is True only for a valid VERP token: that is what lets a hard
        bounce or a complaint suppress an address under the default policy."""
        ...
