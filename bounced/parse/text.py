"""Find addresses and diagnostic text in free text (codes: `bounced.smtp_reply`).

Every pattern has bounded quantifiers so a search stays linear on hostile input.
"""

from __future__ import annotations

import re

__all__ = [
    "ADDRESS_RE",
    "clean_diagnostic",
    "find_addresses",
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

_DAEMON_LOCALS = ("mailer-daemon", "postmaster", "mail-daemon", "maildaemon", "daemon", "mailerdaemon")


def find_addresses(text: str) -> list[str]:
    return ADDRESS_RE.findall(text)


def first_address(text: str) -> str | None:
    m = ADDRESS_RE.search(text)
    return m.group(1) if m else None


def is_daemon_address(address: str) -> bool:
    local = address.rpartition("@")[0].lower()
    return local in _DAEMON_LOCALS or local.startswith("mailer-daemon")


def clean_diagnostic(text: str, limit: int = 2000) -> str:
    """Unfold and collapse whitespace; keep at most `limit` characters."""
    return " ".join(text[: limit * 4].split())[:limit]
