"""RFC 3464 fields written into a text part (gateways that flatten the report, broken MIME)."""

from __future__ import annotations

from bounced.parse.context import Context
from bounced.parse.detectors.base import Detection, failed
from bounced.parse.dsn import blocks_from_text, failure_from_block

__all__ = ["DsnInText"]


class DsnInText:
    name = "dsn-in-text"

    def detect(self, ctx: Context) -> Detection | None:
        # Some reports quote the original's headers first, so the fields can sit in the tail.
        text = ctx.human + "\n\n" + ctx.tail
        low = text[:100_000].lower()
        if "final-recipient:" not in low and "original-recipient:" not in low:
            return None
        blocks = (failure_from_block(block) for block in blocks_from_text(text))
        return failed([f for f in blocks if f is not None])
