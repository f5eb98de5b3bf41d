"""Find addresses, reply codes, enhanced status codes and diagnostic text in free text.

Every pattern has bounded quantifiers so a search stays linear on hostile input.
"""

from __future__ import annotations

import re

__all__ = [
    "ADDRESS_RE",
    "clean_diagnostic",
    "find_addresses",
    "find_reply_code",
    "find_status",
    "first_address",
    "is_daemon_address",
]

# A leading quote or dot is punctuation around the address, not part of it.
# Possessive: "@" is not in the class, so giving characters back can never help a match.
_LOCAL = r"[A-Za-z0-9!#$%&*+/=?^_`{|}~-][A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{0,127}+"
_DOMAIN = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?\.){1,16}[A-Za-z]{2,63}"
_QUOTED_LOCAL = r'"[^"\n\\]{1,64}"'  # RFC 5321 quoted-string local part, kept with its quotes
ADDRESS_RE = re.compile(
    rf"(?<![A-Za-z0-9!#$%&*+/=?^_`{{|}}~.-])((?:{_QUOTED_LOCAL}|{_LOCAL})@{_DOMAIN})(?![A-Za-z0-9-])"
)

# RFC 3463: class.subject.detail; not part of a dotted number such as an IP address or a version.
# Patterns start with the digit itself, never a look-behind, so the regex engine can skip to
# candidate digits; what must not precede a code (a digit or a dot) is checked in Python.
_STATUS_RE = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})(?!\.?\d)")
_REPLY_WITH_STATUS_RE = re.compile(r"([245]\d\d)[ -]#?([245])\.\d{1,3}\.\d{1,3}(?!\.?\d)")
# A reply code leading a reply: at a line start or after "said:", "<<<", "code", "error" ...
_CODE_RE = re.compile(r"([245]\d\d)(?![\d.])(?=[ ,:-]|$)", re.MULTILINE)
_LEAD_CONTEXT_RE = re.compile(
    r"(?:^|said:|says:|<<<|\]:|\):|;|code\W{0,3}|\berror\W{0,3}|\breply\W{0,3})\s{0,8}$",
    re.MULTILINE,  # matched against lower-cased text: far faster than re.IGNORECASE
)
_REPLY_ANY_RE = re.compile(r"(?:^[ \t>]{0,8}|[:(\[]\s{0,2})([45][0-5]\d)(?=[ -][A-Za-z<#(\[])", re.MULTILINE)

# Sendmail's error line "554 <a@b>... 550 Host unknown": its own code first, then, after the
# address and "...", the remote server's reply, which is the one that names the failure.
_SENDMAIL_WRAPPED_RE = re.compile(r"^\s{0,8}[245]\d\d[ -]<[^<>\s]{1,254}>\.\.\. ([245]\d\d)(?=[ -])")
_DIGIT_OR_DOT = frozenset("0123456789.")
_ANY_CODE_RE = re.compile(r"[245]\d\d")
_DAEMON_LOCALS = ("mailer-daemon", "postmaster", "mail-daemon", "maildaemon", "daemon", "mailerdaemon")


def find_addresses(text: str) -> list[str]:
    return ADDRESS_RE.findall(text)


def first_address(text: str) -> str | None:
    m = ADDRESS_RE.search(text)
    return m.group(1) if m else None


def is_daemon_address(address: str) -> bool:
    local = address.rpartition("@")[0].lower()
    return local in _DAEMON_LOCALS or local.startswith("mailer-daemon")


def find_status(text: str) -> str | None:
    """The first plausible RFC 3463 code ("5.1.1") in `text`; subject and detail below 1000."""
    for m in _STATUS_RE.finditer(text):
        start = m.start()
        if start and text[start - 1] in _DIGIT_OR_DOT:  # part of an IP address or a version
            continue
        klass, subject, detail = m.groups()
        if int(subject) < 8 and len(detail) <= 3:
            return f"{klass}.{int(subject)}.{int(detail)}"
    return None


def find_reply_code(text: str) -> int | None:
    """The SMTP reply code in a diagnostic: one paired with a status code, else one leading a reply."""
    if not _ANY_CODE_RE.search(text):  # cheap pre-check: most text has no three-digit code at all
        return None
    wrapped = _SENDMAIL_WRAPPED_RE.match(text)
    if wrapped:
        return int(wrapped.group(1))
    for m in _REPLY_WITH_STATUS_RE.finditer(text):
        start = m.start()
        if start and text[start - 1] in _DIGIT_OR_DOT:
            continue
        if m.group(1)[0] == m.group(2):
            return int(m.group(1))
        break
    low = text.lower()
    for m in _CODE_RE.finditer(low):
        start = m.start()
        head = max(0, start - 24)
        # A sentinel keeps "^" from matching where the slice, not a line, begins.
        before = ("\n" if head == 0 or low[head - 1] == "\n" else "\x00") + low[head:start]
        if _LEAD_CONTEXT_RE.search(before):
            return int(m.group(1))
    anywhere = _REPLY_ANY_RE.search(text)
    return int(anywhere.group(1)) if anywhere else None


def clean_diagnostic(text: str, limit: int = 2000) -> str:
    """Unfold and collapse whitespace; keep at most `limit` characters."""
    return " ".join(text[: limit * 4].split())[:limit]
