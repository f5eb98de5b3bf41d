"""A bounce that names nobody ("Delivery report unavailable", mobile gateways): the
recipient is the envelope RCPT TO it quotes, else the returned original's To."""

from __future__ import annotations

import re

from bounced.parse.context import Context
from bounced.parse.detectors.base import Detection, failed
from bounced.parse.prose import failure_near
from bounced.parse.wording import looks_like_bounce

__all__ = ["OriginalRecipient"]

_RCPT_TO_RE = re.compile(r"RCPT TO:?\s{0,4}<?([^\s<>]{1,254}@[^\s<>]{1,254})>?", re.IGNORECASE)


class OriginalRecipient:
    name = "original-recipient"

    def detect(self, ctx: Context) -> Detection | None:
        if not looks_like_bounce(ctx):
            return None
        m = _RCPT_TO_RE.search(ctx.human[:50_000]) or _RCPT_TO_RE.search(ctx.tail[:50_000])
        address = m.group(1) if m else ctx.original.to_address
        if not address or not ctx.is_candidate(address):
            return None
        return failed([failure_near(ctx, address, ctx.human[:3000])])
