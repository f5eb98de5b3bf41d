"""flufl.bounce's detectors for odd formats: recipients only; codes come from our text scan."""

from __future__ import annotations

import re
from email.message import Message

from flufl.bounce import all_failures

from bounced.parse.context import Context
from bounced.parse.detectors.base import Detection, failed
from bounced.parse.prose import failures_for

__all__ = ["FluflBounce"]

_FLUFL_TEXT_CHARS = 50_000
_FLUFL_LINES = 1_000
_BLANK_RUNS_RE = re.compile(r"\n[ \t]*(?:\n[ \t]*){2,}")


class FluflBounce:
    name = "flufl"

    def detect(self, ctx: Context) -> Detection | None:
        try:
            temporary, permanent = all_failures(_small_message(ctx))
        except Exception:
            return None
        addresses = [a.decode("utf-8", "replace") for a in sorted(permanent) + sorted(temporary - permanent)]
        addresses = [a for a in addresses if "@" in a and ctx.is_candidate(a)]
        return failed(failures_for(ctx, ctx.human, addresses)) if addresses else None


def _small_message(ctx: Context) -> Message:
    """What flufl.bounce reads: the bounce's headers and its own words, bounded. Its detectors
    walk every line of every part, which on a hostile message costs seconds."""
    msg = Message()
    for name, value in ctx.msg.fields[:100]:
        msg[name] = value[:2000]
    del msg["content-type"], msg["content-transfer-encoding"]
    # flufl's Yale detector crashes (and stops the scan) on a From it cannot split: give it
    # the address we read, bare.
    del msg["from"]
    msg["From"] = ctx.from_address or "MAILER-DAEMON@unknown.invalid"
    msg["Content-Type"] = "text/plain; charset=utf-8"
    msg.set_payload(_bounded_lines(ctx.human[:_FLUFL_TEXT_CHARS]))
    return msg


def _bounded_lines(text: str) -> str:
    """At most _FLUFL_LINES lines, runs of blank lines as one: flufl's detectors try every
    pattern on every line, so 50,000 empty lines cost seconds."""
    return "\n".join(_BLANK_RUNS_RE.sub("\n\n", text).split("\n", _FLUFL_LINES)[:_FLUFL_LINES])
