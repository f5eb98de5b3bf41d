"""Exim, Google and others list the failed addresses in an X-Failed-Recipients header."""

from __future__ import annotations

from bounced.parse.context import Context
from bounced.parse.detectors.base import Detection, failed
from bounced.parse.prose import failures_for
from bounced.parse.text import find_addresses

__all__ = ["FailedRecipientsHeader"]


class FailedRecipientsHeader:
    name = "x-failed-recipients"

    def detect(self, ctx: Context) -> Detection | None:
        listed = find_addresses(" ".join(ctx.msg.get_all("X-Failed-Recipients")))
        return failed(failures_for(ctx, ctx.human, listed)) if listed else None
