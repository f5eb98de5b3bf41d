"""Exim, Google and others list the failed addresses in an X-Failed-Recipients header."""

from __future__ import annotations

from bounced.parse.address import valid_recipient
from bounced.parse.context import Context
from bounced.parse.detectors.base import Detection, failed
from bounced.parse.prose import failures_for
from bounced.parse.text import find_addresses

__all__ = ["FailedRecipientsHeader"]


class FailedRecipientsHeader:
    name = "x-failed-recipients"

    def detect(self, ctx: Context) -> Detection | None:
        listed = _listed_recipients(ctx.msg.get_all("X-Failed-Recipients"))
        return failed(failures_for(ctx, ctx.human, listed)) if listed else None


def _listed_recipients(values: list[str]) -> list[str]:
    """The header's comma-separated addresses, each read as a field value (any valid mailbox),
    not searched for like an address in prose: the field says what it holds."""
    found: list[str] = []
    for value in values:
        for item in value.split(","):
            address = valid_recipient(item)
            for a in [address] if address is not None else find_addresses(item):
                if a not in found:
                    found.append(a)
    return found
