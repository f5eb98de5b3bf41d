"""The leave-one-family-out bookkeeping of benchmarks/accuracy.py on made-up decisions (no
corpus needed): which families support a rule, and which rules a fold may switch off."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from bounced.classify.provenance import is_documented
from bounced.model import Failure

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _accuracy() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bounced_accuracy_lofo", BENCHMARKS / "accuracy.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module


def _failure(text: str) -> Failure:
    return Failure(recipient="a@b.example", reply_code=550, diagnostic=text)


def test_support_counts_deciding_rules_and_matching_fragments_that_name_the_answer() -> None:
    accuracy = _accuracy()
    decisions = [
        # family, failure, rules that decided, Sisimai's reason, ours
        (
            "lhost-a",
            _failure("550 mailbox is full"),
            "phrase:mailboxfull:mail ?box (?:is )?full",
            "mailboxfull",
            "mailboxfull",
        ),
        ("lhost-b", _failure("550 user unknown"), "stage:mail", "rejected", "rejected"),
        (
            "lhost-c",
            _failure("550 user unknown"),
            "phrase:userunknown:user ?unknown",
            "filtered",
            "userunknown",
        ),
        ("lhost-d", _failure("550 no such thing"), "fallback:onhold", "userunknown", "onhold"),
    ]
    support = accuracy.rule_support(decisions)
    assert support["phrase:mailboxfull:mail ?box (?:is )?full"] == {"lhost-a"}
    assert support["stage:mail"] == {"lhost-b"}
    # a wrong decision supports nothing, but "user unknown" words count where Sisimai says filtered
    assert "lhost-c" in support["phrase:userunknown:user ?unknown"]
    assert "fallback:onhold" not in support


def test_a_fold_switches_off_only_undocumented_rules_supported_by_that_family_alone() -> None:
    accuracy = _accuracy()
    undocumented = "phrase:userunknown:no such thing at all"
    assert not is_documented(undocumented) and is_documented("stage:mail")
    support = {undocumented: {"lhost-a"}, "stage:mail": {"lhost-a"}, "phrase:x:y": {"lhost-a", "lhost-b"}}
    assert accuracy.learnt_from(support) == {"lhost-a": [undocumented]}
