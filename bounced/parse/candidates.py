"""Which addresses named in bounce prose are failed recipients.

Bounce prose names more than the recipients: Message-IDs that look like addresses, an echo
of the returned message's header lines, the site's contacts, the alias a recipient was
expanded from, a directory's suggestions. Structure tells them apart: the line an address
sits on, what the returned original was addressed to, the codes on the address's own line.
"""

from __future__ import annotations

import re

from bounced.parse.context import Context
from bounced.parse.text import find_addresses
from bounced.smtp_reply import find_reply_code, find_status

__all__ = ["prose_candidates"]

_ID_LINE_RE = re.compile(
    r"^[ \t>]{0,8}(?:message-id|in-reply-to|references|x-message-id|x-ms-exchange[a-z-]{0,60}|"
    r"x-original-message-id|thread-index)[ \t]{0,4}:[^\n]{0,2000}$|\bid <[^<>\s]{1,200}>",
    re.MULTILINE,
)
_ID_LINE_RE_I = re.compile(_ID_LINE_RE.pattern, re.IGNORECASE | re.MULTILINE)
# An indented echo of the returned message's headers ("Your message\n\n  To: list@x\n
# Subject: ..." in Exchange, GroupWise and Domino reports): the original's addressees and
# sender, not the recipients that failed.
_ROLE_LOCALS = ("postmaster@", "abuse@", "hostmaster@", "webmaster@", "help@", "support@")
_ECHO_LINE_RE = re.compile(
    r"^[ \t>]{1,8}(?:to|cc|from|sender|reply-to)[ \t]{0,4}:[^\n]{0,2000}$", re.MULTILINE
)
# The alias a recipient was reached through: Postfix "<a@x> (expanded from <b@y>):", Exim
# "a@x\n    (generated from b@y)". Sisimai reports the address it was expanded to.
_ALIAS_RE = re.compile(
    r"\((?:expanded|generated) from:?[ \t\n]{0,8}<?([^\s<>()@]{1,254}@[^\s<>()]{1,254})>?\)"
)

# Words that offer another address instead of the one that failed: RFC 5321's "551 User not
# local; please try <forward-path>", "has been replaced by", "moved to", a spelling
# suggestion ("did you mean"), an example, a contact for help. Matched on the text just
# before the address.
_ADVICE_BEFORE_RE = re.compile(
    r"(?:please\s+try|try\s+(?:(?:sending|e-?mailing|mailing|writing)\s+)?(?:it\s+)?(?:to\s+)?|replaced\s+by|"
    r"forward(?:ed|ing)?\s+(?:it\s+)?to|(?:new|alternate|alternative|correct)\s+(?:e-?mail\s+)?address(?:\s+is)?|"
    r"moved\s+to|did\s+you\s+mean|e\.g\.,?(?:\s+if)?|for\s+example,?|"
    r"contact(?:\s+[\w-]{1,20}){0,4}?(?:\s+at)?|write\s+to|questions?\s+to)[\s:<\"'(]{0,8}$"
)

# What may come before an address that heads a per-recipient line.
_LINE_LEAD_RE = re.compile(
    r"[\s<>\"'(*-]{0,12}(?:\d{3}[ -]{1,3}(?:\d\.\d{1,3}\.\d{1,3}\s{1,3})?[\s<\"'(]{0,4})?"
)


def prose_candidates(ctx: Context, text: str) -> list[str]:
    """Every address in `text` that may be a failed recipient, in order of appearance."""
    # Message-IDs look like addresses; never take one for a recipient. Echoed header
    # lines only when nothing else is named.
    plain = _without_id_lines(text)
    found = [a for a in find_addresses(_ECHO_LINE_RE.sub(" ", plain.lower())) if ctx.is_candidate(a)]
    if found:
        kept = {a.lower() for a in found}
        candidates = [a for a in find_addresses(plain) if a.lower() in kept]
    else:
        candidates = [a for a in find_addresses(plain) if ctx.is_candidate(a)]
    # "Contact postmaster@their.example": a role address beside a recipient is advice.
    people = [a for a in candidates if not a.lower().startswith(_ROLE_LOCALS)]
    if people:
        candidates = people
    # Each address once (its first spelling): the checks below look at every mention of it.
    distinct: dict[str, str] = {}
    for a in candidates:
        distinct.setdefault(a.lower(), a)
    candidates = list(distinct.values())
    if len(candidates) > 1:
        aliases = {a.lower() for a in _ALIAS_RE.findall(plain)}
        lowered = plain.lower()
        reached = [a for a in candidates if a.lower() not in aliases and not _advised(lowered, a.lower())]
        candidates = reached or candidates
    if len(candidates) > 1:
        candidates = _not_ours(ctx, plain, candidates)
    if len(candidates) > 1:
        candidates = _addressed_or_coded(ctx, plain, candidates)
    return candidates


def _without_id_lines(text: str) -> str:
    """`text` with Message-ID-like lines blanked (their ids look like addresses)."""
    if not text.isascii():  # lower() may change lengths outside ASCII: use the slower regex
        return _ID_LINE_RE_I.sub(" ", text)
    spans = [m.span() for m in _ID_LINE_RE.finditer(text.lower())]
    if not spans:
        return text
    pieces: list[str] = []
    last = 0
    for start, end in spans:
        pieces.append(text[last:start])
        pieces.append(" ")
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


def _advised(lowered: str, address: str) -> bool:
    """Every mention of `address` in `lowered` comes right after words offering it instead."""
    at = lowered.find(address)
    while at >= 0:
        if not _ADVICE_BEFORE_RE.search(lowered[max(0, at - 60) : at]):
            return False
        at = lowered.find(address, at + len(address))
    return True


def _not_ours(ctx: Context, text: str, candidates: list[str]) -> list[str]:
    """Without the addresses of our own domain (the bounce's To: our envelope sender, or a
    parent or subdomain of it), when another domain's address is named: "your message from
    news@our.example to a@x" names our sender. One of ours that leads its own coded line
    ("<a@our.example>: 550 ...") failed too."""
    ours = {a.rpartition("@")[2].lower() for a in ctx.to_addresses}
    if not ours:
        return candidates
    lowered = text.lower()
    kept = [a for a in candidates if not _same_site(a.rpartition("@")[2].lower(), ours)]
    if not kept:
        return candidates
    return [a for a in candidates if a in kept or _leads_coded_line(text, lowered.find(a.lower()))]


def _same_site(domain: str, ours: set[str]) -> bool:
    return any(domain == d or domain.endswith("." + d) or d.endswith("." + domain) for d in ours)


def _addressed_or_coded(ctx: Context, text: str, candidates: list[str]) -> list[str]:
    """Of several addresses named, those the returned original was addressed to, and those
    whose own line (or the next) gives a code: the rest are advice (a directory's
    suggestions, the site's standard address form, a contact). All, when the original
    names none of them (it may be addressed to a list, the recipients in its envelope)."""
    addressees = ctx.original_addressees
    if not any(a.lower() in addressees for a in candidates):
        return candidates
    lowered = text.lower()
    return [a for a in candidates if a.lower() in addressees or _coded_line(text, lowered.find(a.lower()))]


def _leads_coded_line(text: str, pos: int) -> bool:
    """The address at `pos` starts its line (after quoting, a bullet or a reply code: "554
    <a@x>... 550 Host unknown"), and that line or the next has a code."""
    if pos < 0 or not _LINE_LEAD_RE.fullmatch(text[text.rfind("\n", 0, pos) + 1 : pos][:80]):
        return False
    return _coded_line(text, pos)


def _coded_line(text: str, pos: int) -> bool:
    """The line at `pos` and the one after it carry a reply or status code."""
    if pos < 0:
        return False
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", text.find("\n", pos) + 1)
    lines = text[start : end if end >= 0 else len(text)][:2000]
    return find_reply_code(lines) is not None or find_status(lines) is not None
