"""Reason detection from diagnostic text, and the delay a server asks for.

`REASON_PATTERNS` is an ordered table, one alternation of message patterns per reason, in
the spirit of Sisimai's lib/Sisimai/Reason/*.pm: the first reason whose patterns match
wins, so the specific (greylisting, mailbox full, SPF) comes before the general (blocked,
security error). Patterns are matched against a normalised copy of the text: lower case,
whitespace runs collapsed, capped at `MAX_EXAMINED` characters, so a 10 MB diagnostic costs
no more than a short one. No pattern nests quantifiers; matching is linear in the text.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from bounced.classify.diagnostic import asked_delay, normalise_text
from bounced.classify.phrase_matcher import FirstMatch, compile_alternation
from bounced.classify.reason_table import FIXED_SECTIONS, REASON_TABLE
from bounced.model import Reason

__all__ = [
    "DEFAULT_PHRASES",
    "REASON_PATTERNS",
    "PhraseTable",
    "ReasonRule",
    "detect_reason",
    "first_rule",
    "is_greylisting",
    "matching_reasons",
    "phrase_rule_id",
    "retry_after_seconds",
]


class ReasonRule(NamedTuple):
    reason: Reason
    pattern: re.Pattern[str]
    generic: bool  # a vague phrase ("try again", "temporary failure"): a status code beats it
    fixed: bool = False  # an MTA's documented fixed text: the SMTP stage does not reread it


REASON_PATTERNS: tuple[ReasonRule, ...] = tuple(
    ReasonRule(reason, compile_alternation(fragments), generic, i in FIXED_SECTIONS)
    for i, (reason, generic, fragments) in enumerate(REASON_TABLE)
)
_BY_REASON: dict[Reason, re.Pattern[str]] = {}
for _rule in REASON_PATTERNS:
    _BY_REASON.setdefault(_rule.reason, _rule.pattern)


def phrase_rule_id(reason: Reason, fragment: str) -> str:
    """The name of one fragment of the reason table, as classifications and provenance give it."""
    return f"phrase:{reason.value}:{fragment}"


class PhraseTable:
    """Every fragment of the reason table in one pass (see `phrase_matcher`), less the
    `disabled` ones (rule names): the first fragment in table order that matches, with its
    section. One fragment per matcher section, so the answer names the fragment that decided;
    its section is the first section that matches, as when the sections are tried in order."""

    def __init__(self, disabled: frozenset[str] = frozenset(), skip: frozenset[Reason] = frozenset()) -> None:
        self.disabled = disabled
        self.entries: list[tuple[ReasonRule, str]] = []
        fragments: list[str] = []
        for rule, (reason, _, section) in zip(REASON_PATTERNS, REASON_TABLE, strict=True):
            for fragment in section:
                name = phrase_rule_id(reason, fragment)
                if name not in disabled and reason not in skip:
                    self.entries.append((rule, name))
                    fragments.append(fragment)
        self._first = FirstMatch([[fragment] for fragment in fragments])
        self._without: dict[frozenset[Reason], PhraseTable] = {}

    def first(self, normalised: str, skip: frozenset[Reason] = frozenset()) -> tuple[ReasonRule, str] | None:
        """(section rule, fragment rule name) of the first fragment that matches, or None;
        fragments of the `skip` reasons left out (the tables without them are built once)."""
        if skip:
            if (table := self._without.get(skip)) is None:
                table = self._without[skip] = PhraseTable(self.disabled, skip)
            return table.first(normalised)
        index = self._first.first(normalised) if normalised else None
        return None if index is None else self.entries[index]


DEFAULT_PHRASES = PhraseTable()


def first_rule(normalised: str) -> ReasonRule | None:
    """The first rule in table order whose patterns match the normalised text, or None."""
    found = DEFAULT_PHRASES.first(normalised)
    return None if found is None else found[0]


def matching_reasons(text: str) -> list[Reason]:
    """Every reason whose patterns match, in table order (for decisions that need two)."""
    normalised = normalise_text(text)
    if not normalised:
        return []
    return [rule.reason for rule in REASON_PATTERNS if rule.pattern.search(normalised)]


def detect_reason(text: str) -> Reason | None:
    """The first reason in table order whose patterns match `text`, or None."""
    rule = first_rule(normalise_text(text))
    return rule.reason if rule is not None else None


def is_greylisting(text: str) -> bool:
    return bool(_BY_REASON[Reason.GREYLISTED].search(normalise_text(text)))


def retry_after_seconds(text: str, greylist_default: int | None = None) -> int | None:
    """Seconds the remote server asked us to wait before retrying, or None.

    `greylist_default` is returned when the text says greylisted without a number.
    """
    normalised = normalise_text(text)
    if not normalised:
        return None
    if (delay := asked_delay(normalised)) is not None:
        return delay
    if greylist_default is not None and _BY_REASON[Reason.GREYLISTED].search(normalised):
        return greylist_default
    return None
