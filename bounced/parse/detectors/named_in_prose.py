"""Addresses named in the human-readable part of a bounce, with the codes after them
(qmail, Exim without DSN, Sendmail v5, Yahoo, Domino, Notes, mobile carriers, list managers).
Only for messages that read like bounces."""

from __future__ import annotations

from bounced.parse.context import Context
from bounced.parse.detectors.base import Detection, failed
from bounced.parse.prose import failures_for
from bounced.parse.wording import looks_like_bounce

__all__ = ["NamedInProse"]


class NamedInProse:
    name = "prose"

    def detect(self, ctx: Context) -> Detection | None:
        return failed(failures_for(ctx, ctx.human)) if looks_like_bounce(ctx) else None
