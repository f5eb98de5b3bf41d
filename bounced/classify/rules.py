"""The set of classification rules in force: every rule, or every rule but some named ones.

Every rule that can decide a reason has a name (`Classification.reason_rule` gives the ones
that decided): `phrase:<reason>:<fragment>` for a fragment of the reason table,
`provider:...` / `code:...` for a provider's pattern or code table, `status:<code>` for the
meaning of an enhanced status code, and the names in `bounced.classify.provenance` for the
decisions written as code (the SMTP stage, the fallbacks). `RuleSet.without` switches some
off: the accuracy benchmark's leave-one-family-out run classifies a held-out family without
the rules that only that family could have taught (`benchmarks/accuracy.py`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from bounced.classify.reasons import DEFAULT_PHRASES, PhraseTable

__all__ = ["DEFAULT_RULES", "RuleSet"]


@dataclass(frozen=True, slots=True)
class RuleSet:
    disabled: frozenset[str] = frozenset()
    phrases: PhraseTable = field(default=DEFAULT_PHRASES, compare=False)

    def without(self, names: Iterable[str]) -> RuleSet:
        """These rules and the ones already off; building one costs a table compile (~0.1 s)."""
        return _without(self.disabled | frozenset(names))


@lru_cache(maxsize=32)
def _without(disabled: frozenset[str]) -> RuleSet:
    phrases = PhraseTable(frozenset(n for n in disabled if n.startswith("phrase:")))
    return RuleSet(disabled, phrases)


DEFAULT_RULES = RuleSet()
