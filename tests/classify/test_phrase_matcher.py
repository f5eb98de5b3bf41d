"""The one-pass matcher gives the same answers as searching fragment by fragment, section by
section (the reason table's meaning must not change when it is searched faster)."""

from __future__ import annotations

import random
import re
import re._constants as sre
import re._parser as sre_parse

import pytest

from bounced.classify.phrase_matcher import FirstMatch, compile_alternation
from bounced.classify.reason_table import REASON_TABLE

_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_ .-:;()<>[]'\"#@/=,!é\n"
_FRAGMENTS = [fragment for _, _, fragments in REASON_TABLE for fragment in fragments]


def _sample(tree: sre_parse.SubPattern, rnd: random.Random) -> str:
    """A string `tree` may match (look-arounds and anchors ignored: near misses are welcome)."""
    out: list[str] = []
    for op, av in tree:
        if op is sre.LITERAL:
            out.append(chr(av))
        elif op in (sre.NOT_LITERAL, sre.ANY, sre.CATEGORY):
            out.append(rnd.choice(_CHARS))
        elif op is sre.IN:
            options = [
                chr(a) if o is sre.LITERAL else chr(rnd.randint(*a))
                for o, a in av
                if o in (sre.LITERAL, sre.RANGE)
            ]
            out.append(rnd.choice(options or list(_CHARS)))
        elif op is sre.BRANCH:
            out.append(_sample(rnd.choice(av[1]), rnd))
        elif op is sre.SUBPATTERN:
            out.append(_sample(av[3], rnd))
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            low, high, sub = av
            out.extend(_sample(sub, rnd) for _ in range(rnd.randint(low, min(high, low + 3))))
    return "".join(out)


def _texts(seed: int, count: int) -> list[str]:
    rnd = random.Random(seed)
    trees = [sre_parse.parse(fragment) for fragment in _FRAGMENTS]
    texts = []
    for _ in range(count):
        parts = [_sample(rnd.choice(trees), rnd) for _ in range(rnd.choice((1, 1, 2, 3)))]
        if rnd.random() < 0.3:  # a near miss: one character dropped or changed
            i = rnd.randrange(len(parts[0]) or 1)
            parts[0] = parts[0][:i] + rnd.choice(("", rnd.choice(_CHARS))) + parts[0][i + 1 :]
        texts.append(rnd.choice(("", "550 ", "x")) + rnd.choice((" ", "", "-", ": ")).join(parts))
    return texts


_TEXTS = _texts(20251126, 3000)


def test_first_match_is_the_first_section_that_matches() -> None:
    sections = [re.compile("|".join(f"(?:{f})" for f in fragments)) for _, _, fragments in REASON_TABLE]
    matcher = FirstMatch([fragments for _, _, fragments in REASON_TABLE])
    for text in _TEXTS:
        expected = next((i for i, pattern in enumerate(sections) if pattern.search(text)), None)
        assert matcher.first(text) == expected, text


@pytest.mark.parametrize("fragment", _FRAGMENTS)
def test_rewritten_fragment_matches_where_the_original_does(fragment: str) -> None:
    original, rewritten = re.compile(fragment), compile_alternation([fragment])
    rnd = random.Random(fragment)
    own = [_sample(sre_parse.parse(fragment), rnd) for _ in range(20)]
    for text in [*own, *(f"a{t}" for t in own), *(f"{t}z" for t in own), *rnd.sample(_TEXTS, 40)]:
        assert bool(rewritten.search(text)) == bool(original.search(text)), text


@pytest.mark.parametrize(
    ("fragment", "yes", "no"),
    [
        (r"\bspam\b", ["spam", "a spam.", "x (spam)"], ["antispam", "spams", "xspam"]),
        (
            r"\b553 [^ @]+ does not exist",
            ["553 a does not exist", "-553 x does not exist"],
            ["1553 a does not exist"],
        ),
        (r"^procmail:", ["procmail: x"], [" procmail:", "x procmail:"]),
        (
            r"(?<!recipient )verification failed for <",
            ["verification failed for <", "sender verification failed for <"],
            ["recipient verification failed for <"],
        ),
        (
            r"mail ?box (?:is )?full",
            ["mailbox full", "mail box is full"],
            ["mail  box full", "mailbox is is full"],
        ),
        (r"gr[ae]y-?list", ["greylist", "gray-list"], ["grey list", "grylist"]),
        (r"a|b(?:c|d)?e", ["a", "be", "bce"], ["bcd", "x"]),
        (r"\b(?:fail|bad)\b.{0,24}\b(?:spf|dkim)\b", ["bad: spf", "fail x dkim"], ["failspf", "bad dkimx"]),
    ],
)
def test_rewritten_fragment_examples(fragment: str, yes: list[str], no: list[str]) -> None:
    rewritten = compile_alternation([fragment])
    assert all(rewritten.search(text) for text in yes)
    assert not any(rewritten.search(text) for text in no)


def test_first_match_prefers_table_order_over_position() -> None:
    matcher = FirstMatch([["later phrase"], ["early"], [r"^\d{1,3}$"]])
    assert matcher.first("early then later phrase") == 0
    assert matcher.first("early") == 1
    assert matcher.first("550") == 2
    assert matcher.first("nothing") is None
