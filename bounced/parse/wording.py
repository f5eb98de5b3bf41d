"""Whether a message reads like a bounce: by its sender, its subject or its words.

The heuristic detectors (addresses in prose, the quoted RCPT TO) run only on such messages,
and an auto-reply whose words report a failed delivery is a bounce.
"""

from __future__ import annotations

import re

from bounced.parse.context import Context

__all__ = ["bounce_wording", "looks_like_bounce"]

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
