"""An RFC 3464 report inside an attached message (a bounce forwarded to the return path)."""

from __future__ import annotations

from bounced.parse.context import Context
from bounced.parse.detectors.base import Detection, failed
from bounced.parse.dsn import read_dsn

__all__ = ["NestedDsn"]


class NestedDsn:
    name = "nested-dsn"

    def detect(self, ctx: Context) -> Detection | None:
        return failed(read_dsn(ctx.msg, nested=True)[0])
