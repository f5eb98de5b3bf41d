"""Bounce patterns of particular mailbox providers, checked before the general table.

Some providers answer with texts that mean something other than their words suggest;
the general reason table would misread them. Each entry names the provider and why.
Switch off with `[classify] provider_patterns = false`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bounced.model import Reason

__all__ = ["PROVIDER_PATTERNS", "ProviderPattern", "provider_reason"]


@dataclass(frozen=True, slots=True)
class ProviderPattern:
    provider: str
    reason: Reason
    pattern: re.Pattern[str]  # over the normalised (lower-cased, single-spaced) diagnostic
    why: str


def _p(provider: str, reason: Reason, pattern: str, why: str) -> ProviderPattern:
    return ProviderPattern(provider, reason, re.compile(pattern), why)


PROVIDER_PATTERNS: tuple[ProviderPattern, ...] = (
    _p(
        "Google Groups",
        Reason.REJECTED,
        r"groups\.google\.com/support",
        "a group that does not exist or does not let this sender post (localised text, one URL)",
    ),
    _p(
        "au / KDDI (ezweb.ne.jp, au.com)",
        Reason.FILTERED,
        r"^(?:\S+ )?550:? : user unknown",
        'the carrier\'s domain filter answers "550 : User unknown" with an empty address',
    ),
    _p(
        "Gmail",
        Reason.SPEEDING,
        r"receivingrate(?:perm|temp)?\b|p=receivingrate",
        "the recipient receives mail faster than Gmail allows",
    ),
    _p(
        "Gmail",
        Reason.MAILBOXFULL,
        r"p=overquota(?:perm|temp)?\b",
        "the recipient's mailbox is out of storage space",
    ),
    _p(
        "Microsoft (Outlook.com / Hotmail)",
        Reason.BLOCKED,
        r"\bsc-00[1-4]\b|\bsc-00[1-4] ",
        "SC-001..SC-004: mail from the sending IP refused for its reputation",
    ),
    _p(
        "Cox",
        Reason.BLOCKED,
        r"aup#\w{0,8}rbl",
        "AUP#...RBL: the sending IP is on a block list, whatever the sender-rejected wording",
    ),
)


def provider_reason(normalised: str) -> Reason | None:
    """The reason a provider's own pattern gives, or None."""
    for entry in PROVIDER_PATTERNS:
        if entry.pattern.search(normalised):
            return entry.reason
    return None
