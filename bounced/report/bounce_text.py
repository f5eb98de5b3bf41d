"""Normalise a bounce's diagnostic text so the same reason groups together in reports.

What differs per message (addresses, URLs, IP addresses, queue ids, numbers) becomes a
placeholder (`<EMAIL>`, `<URL>`, `<IP>`, `<ID>`, `<N>`); the SMTP reply code and the
RFC 3463 enhanced status codes are kept, because they are part of the reason.

Every bounce event gets this key where its failure is classified
(`bounced.apply.policy.precompute`): with the analysis, in a worker process, for received
bounces; in the sender for the next hop's synchronous replies. The store only persists it.
So it is pure and cheap: the input is capped, and the one regular expression only starts a
match at the beginning of a run of characters
(lookbehinds), so no run is rescanned from every position (no quadratic backtracking).
"""

from __future__ import annotations

import re

from bounced.smtp_reply import leading_reply

__all__ = ["MAX_INPUT", "MAX_KEY", "normalise_bounce_text"]

# A diagnostic longer than this is a dump, not a reason: the head carries the reason.
MAX_INPUT = 2000
MAX_KEY = 400

# "smtp; 450 ..." (RFC 3464 diagnostic-type) and friends.
_DIAG_TYPE = re.compile(r"^(?:smtp|x-postfix|x-unix|x-local|x-exim|x-qmail)\s*;\s*", re.IGNORECASE)
# Postfix: "host mx1.example.com[192.0.2.1] said: 450 ..." - the MX name varies per host.
_HOST_SAID = re.compile(r"^host \S{1,300} said:\s*", re.IGNORECASE)

_LOCAL = r"[\w.+=!#$%&'*/?^`{|}~-]"
_TOKEN = re.compile(
    "|".join(
        (
            # URLs: the trailing punctuation belongs to the sentence, not the URL.
            r"(?P<url>(?<![\w.])(?:https?|ftps?)://[^\s<>\"']*[^\s<>\"'.,;:)\]!?]"
            r"|(?<![\w.])www\.[^\s<>\"']*[^\s<>\"'.,;:)\]!?])",
            rf"(?P<email><?(?<!{_LOCAL}){_LOCAL}+@[\w-]+(?:\.[\w-]+)*>?)",
            # Kept: enhanced status codes and a reply code followed by one ("550-5.1.1").
            r"(?P<status>(?<![\w.])(?:[2-5]\d\d[ -])?[2-5]\.\d{1,3}\.\d{1,3}(?![\w.]))",
            r"(?P<ip4>(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w.]))",
            # IPv6: hex and colons with "::" or three groups (so "12:30:45" stays a time).
            r"(?P<ip6>(?<![\w:])(?:IPv6:)?(?=[0-9A-Fa-f:]{0,45}\d)"
            r"(?=[0-9A-Fa-f:]{0,45}::|(?:[0-9A-Fa-f]{1,4}:){3})[0-9A-Fa-f:]{2,45}(?![\w:]))",
            # Queue ids, message ids, hashes: a longer run mixing letters and digits.
            r"(?P<id>(?<![\w-])(?=[\w-]{0,200}?\d)(?=[\w-]{0,200}?[A-Za-z])[\w-]{8,}(?![\w-]))",
            r"(?P<n>(?<!\d)\d+(?:[.,]\d+)*)",
        )
    )
)
_PLACEHOLDER = {"url": "<URL>", "email": "<EMAIL>", "ip4": "<IP>", "ip6": "<IP>", "id": "<ID>", "n": "<N>"}


def _replace(match: re.Match[str]) -> str:
    kind = match.lastgroup
    if kind == "status" or kind is None:
        return match.group(0)
    return _PLACEHOLDER[kind]


def normalise_bounce_text(diagnostic: str, reply_code: int | None) -> str:
    """Return the grouping key of a diagnostic: `"450 4.2.0 <EMAIL>: ... for <N> seconds"`.

    The reply code leads the key (taken from the text, or prefixed from `reply_code`), so
    texts that only differ in whether the MTA repeated the code group together.
    """
    text = " ".join(diagnostic[:MAX_INPUT].split())
    text = _DIAG_TYPE.sub("", text, count=1)
    text = _HOST_SAID.sub("", text, count=1)
    lead = leading_reply(text)
    prefix = ""
    if lead:
        code, status, end = lead
        prefix = f"{code} {status}" if status else code
        rest = text[end:]
        # Multi-line replies repeat "550-5.7.1" on every line; once is enough.
        repeat = re.escape(code) + r"[ -]" + (re.escape(status) if status else "")
        rest = re.sub(rf"(?<!\S){repeat}(?!\S)", " ", rest)
    else:
        if reply_code is not None:
            prefix = str(reply_code)
        rest = text
    rest = " ".join(_TOKEN.sub(_replace, rest).split())
    key = f"{prefix} {rest}".strip() if prefix else rest
    return key[:MAX_KEY]
