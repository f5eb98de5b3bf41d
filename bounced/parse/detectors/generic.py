"""Heuristics of last resort: X-Failed-Recipients, addresses in bounce prose, flufl.bounce.

These run after every format-specific detector, and only on messages that look like bounces.
"""

from __future__ import annotations

import re
from email.message import Message

from flufl.bounce import all_failures

from bounced.model import Failure
from bounced.parse.detectors.base import Context, failure_near, failures_for
from bounced.parse.text import find_addresses

__all__ = [
    "FailedRecipientsHeader",
    "FluflBounce",
    "OriginalRecipient",
    "ProseHeuristic",
    "bounce_wording",
    "looks_like_bounce",
]

_FLUFL_TEXT_CHARS = 50_000
_FLUFL_LINES = 1_000
_BLANK_RUNS_RE = re.compile(r"\n[ \t]*(?:\n[ \t]*){2,}")
_RCPT_TO_RE = re.compile(r"RCPT TO:?\s{0,4}<?([^\s<>]{1,254}@[^\s<>]{1,254})>?", re.IGNORECASE)

_BOUNCE_SUBJECT_RE = re.compile(
    r"undeliver|deliver(?:y|ed)|returned|failure|failed|bounce|non[- ]?remis|rejected|not delivered|"
    r"mail system error|error|warning|delay|nicht zustellbar|unzustellbar|no entregado|"
    r"不達|エラー|未送达|退信|배달",
)
_BOUNCE_BODY_RE = re.compile(
    r"could not be delivered|couldn'?t be delivered|undeliverable|permanent(?:ly)? (?:error|fail)|"
    r"delivery (?:to the following|has failed|failed|problem)|user unknown|unknown user|"
    r"no such (?:user|mailbox|address)|mailbox (?:unavailable|full|is full)|rejected|"
    r"not (?:be )?delivered|failed to deliver|was not delivered|returned to sender|"
    r"does not exist|doesn'?t exist|remote host said|smtp error|transcript of session|"
    r"unable to deliver|delivery failure|message delivery failed|"
    r"not (?:a )?member of (?:this|the) (?:mailing )?list",
)


def looks_like_bounce(ctx: Context) -> bool:
    sender = (ctx.from_address or "").lower()
    if sender.startswith(("mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon")):
        return True
    if _BOUNCE_SUBJECT_RE.search(ctx.subject.lower()):
        return True
    return bounce_wording(ctx)


def bounce_wording(ctx: Context) -> bool:
    """The prose says delivery failed ("could not be delivered", "user unknown", ...)."""
    return bool(_BOUNCE_BODY_RE.search(ctx.human[:20000].lower()))  # lower-case patterns


class FailedRecipientsHeader:
    """Exim, Google and others list the failed addresses in X-Failed-Recipients."""

    name = "x-failed-recipients"

    def detect(self, ctx: Context) -> list[Failure]:
        listed = find_addresses(" ".join(ctx.msg.get_all("X-Failed-Recipients")))
        if not listed:
            return []
        return failures_for(ctx, ctx.human, listed)


class ProseHeuristic:
    """Addresses named in the human-readable part of a bounce, with the codes after them."""

    name = "prose"

    def detect(self, ctx: Context) -> list[Failure]:
        if not looks_like_bounce(ctx):
            return []
        return failures_for(ctx, ctx.human)


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


class FluflBounce:
    """flufl.bounce's detectors for odd formats: recipients only; codes come from our text scan."""

    name = "flufl"

    def detect(self, ctx: Context) -> list[Failure]:
        try:
            temporary, permanent = all_failures(_small_message(ctx))
        except Exception:
            return []
        addresses = [a.decode("utf-8", "replace") for a in sorted(permanent) + sorted(temporary - permanent)]
        addresses = [a for a in addresses if "@" in a and ctx.is_candidate(a)]
        if not addresses:
            return []
        return failures_for(ctx, ctx.human, addresses)


class OriginalRecipient:
    """A bounce that names nobody ("Delivery report unavailable", mobile gateways): the
    recipient is the envelope RCPT TO it quotes, else the returned original's To."""

    name = "original-recipient"

    def detect(self, ctx: Context) -> list[Failure]:
        if not looks_like_bounce(ctx):
            return []
        m = _RCPT_TO_RE.search(ctx.human[:50_000]) or _RCPT_TO_RE.search(ctx.tail[:50_000])
        address = m.group(1) if m else ctx.original_to
        if not address or not ctx.is_candidate(address):
            return []
        return [failure_near(ctx, address, ctx.human[:3000])]
