"""Many regular-expression fragments searched in one pass, the first in table order winning.

The reason table holds hundreds of fragments. Python's `re` tries every alternative of an
alternation at every position of the text, so `a|b|c|...` costs (fragments x length).
Here the fragments are rewritten into an equivalent trie on their literal prefixes
(`mail ?box full` and `mail ?box quota` share `mail`), so each position costs a handful of
one-character checks, and `FirstMatch` searches all sections of the table in one pass
instead of one search per section.

Exactness: a fragment is only rewritten into forms with the same meaning (leading groups,
optional characters and small character classes expanded; a leading `\\b`, `^` or
`(?<!...)` moved behind the literal prefix as an equivalent look-behind). At one position
the alternatives are tried in table order, except that alternatives whose next literal
character differs are grouped apart, which cannot change the first match since they
exclude each other there. `FirstMatch` visits every position where something matches
(searching again one character after each match start), so the smallest section index over
those positions is the first section, in table order, that matches anywhere: the same
answer as searching section after section. `tests/classify/test_phrase_matcher.py` checks
both claims on texts sampled from the table's own fragments.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

__all__ = ["FirstMatch", "compile_alternation"]

_SPECIAL = frozenset(".^$*+?{}[]\\|()")
_QUANTIFIERS = frozenset("?*+{")
_MAX_FORMS = 48  # expansions of one fragment; past that the rest stays a plain regex
_WORD = re.compile(r"\w")
# Alternatives that differ in their next character are tried commonest first.
_RANK = {char: rank for rank, char in enumerate(" etaoinsrldcumhpfgybwvk.x0123456789-:jqz")}


class _Form(NamedTuple):
    path: str  # literal characters every match starts with
    lead: str  # "", "\\b", "^" or a literal negative look-behind text, asserted before `path`
    rest: str  # the regular expression that follows `path`
    tag: int


def _class_end(s: str, i: int) -> int:
    j = i + 1
    if s[j : j + 1] == "^":
        j += 1
    if s[j : j + 1] == "]":
        j += 1
    while s[j] != "]":
        j += 2 if s[j] == "\\" else 1
    return j + 1


def _group_end(s: str, i: int) -> int:
    depth, j = 0, i
    while True:
        c = s[j]
        if c == "\\":
            j += 2
            continue
        if c == "[":
            j = _class_end(s, j)
            continue
        depth += (c == "(") - (c == ")")
        j += 1
        if depth == 0:
            return j


def _split_top(s: str) -> list[str]:
    parts, depth, start, j = [], 0, 0, 0
    while j < len(s):
        c = s[j]
        if c == "\\":
            j += 2
            continue
        if c == "[":
            j = _class_end(s, j)
            continue
        if c == "|" and depth == 0:
            parts.append(s[start:j])
            start = j + 1
        depth += (c == "(") - (c == ")")
        j += 1
    return [*parts, s[start:]]


def _literal(s: str) -> tuple[str, int] | None:
    """(character, length in `s`) when `s` opens with one literal character."""
    if not s:
        return None
    if s[0] not in _SPECIAL:
        return s[0], 1
    if s[0] == "\\" and len(s) > 1 and not s[1].isalnum() and s[1] != "_":
        return s[1], 2
    return None


def _optional(s: str) -> bool:
    """`s` (what follows an element) makes that element greedy-optional."""
    return s[:1] == "?" and s[1:2] not in ("?", "+")


def _expand(form: _Form, budget: list[int]) -> list[_Form]:
    path, lead, rest, tag = form
    while True:
        if not path and not lead:
            if rest.startswith("\\b"):
                lead, rest = "\\b", rest[2:]
            elif rest.startswith("^"):
                lead, rest = "^", rest[1:]
            elif rest.startswith("(?<!"):
                end = _group_end(rest, 0)
                inner = rest[4 : end - 1]
                if inner and not any(c in _SPECIAL for c in inner):
                    lead, rest = inner, rest[end:]
        literal = _literal(rest)
        if literal is not None:
            char, size = literal
            after = rest[size:]
            if after[:1] not in _QUANTIFIERS:
                path, rest = path + char, after
                continue
            if not _optional(after) or budget[0] <= 0:
                break
            budget[0] -= 1
            return [
                *_expand(_Form(path + char, lead, after[1:], tag), budget),
                *_expand(_Form(path, lead, after[1:], tag), budget),
            ]
        if rest.startswith("(?:") or (rest.startswith("[") and not rest.startswith("[^")):
            end = _group_end(rest, 0) if rest[0] == "(" else _class_end(rest, 0)
            after = rest[end:]
            if rest[0] == "(":
                choices = _split_top(rest[3 : end - 1])
            else:
                inner = rest[1 : end - 1]
                if any(c in _SPECIAL or c == "-" for c in inner):
                    break
                choices = list(inner)
            optional = _optional(after)
            if (after[:1] in _QUANTIFIERS and not optional) or budget[0] < len(choices):
                break
            budget[0] -= len(choices)
            tail = after[1:] if optional else after
            forms = [_Form(path, lead, choice + tail, tag) for choice in choices]
            forms += [_Form(path, lead, tail, tag)] if optional else []
            return [expanded for f in forms for expanded in _expand(f, budget)]
        break
    return [_Form(path, lead, rest, tag)]


def _forms(fragment: str, tag: int) -> list[_Form]:
    return _expand(_Form("", "", f"(?:{fragment})", tag), [_MAX_FORMS])


def _leaf(form: _Form) -> str:
    """`rest`, with the lead assertion turned into a look-behind over the consumed path."""
    path, lead, rest, _ = form
    if lead not in ("", "\\b", "^"):
        lead = f"(?<!{lead})" if not path else lead
    if not lead or not path:
        return lead + rest
    width = len(path)
    if lead == "^":
        check = f"(?<![\\s\\S]{{{width + 1}}})"
    elif lead == "\\b":
        check = f"(?<!\\w[\\s\\S]{{{width}}})" if _WORD.match(path[0]) else f"(?<=\\w[\\s\\S]{{{width}}})"
    else:
        check = f"(?<!{re.escape(lead + path)})"
    return check + rest


def _emit(forms: list[_Form], depth: int, tags: list[int] | None) -> str:
    """The trie over `forms` (which share `path[:depth]`) from `depth` on. With `tags`, every
    run of same-section leaves ends in an empty marker group, its section appended to `tags`."""
    pieces: list[str] = []
    i = 0
    while i < len(forms):
        j = i
        if len(forms[i].path) > depth:
            while j < len(forms) and len(forms[j].path) > depth:
                j += 1
            groups: dict[str, list[_Form]] = {}
            for form in forms[i:j]:
                groups.setdefault(form.path[depth], []).append(form)
            for _, members in sorted(groups.items(), key=lambda item: _RANK.get(item[0], len(_RANK))):
                common, shortest = depth + 1, min(len(m.path) for m in members)
                while common < shortest and len({m.path[common] for m in members}) == 1:
                    common += 1
                body = _emit(members, common, tags)
                pieces.append(re.escape(members[0].path[depth:common]) + f"(?:{body})")
        else:
            while j < len(forms) and len(forms[j].path) == depth and forms[j].tag == forms[i].tag:
                j += 1
            body = "|".join(f"(?:{_leaf(form)})" for form in forms[i:j])
            if tags is not None:
                tags.append(forms[i].tag)
                body = f"(?:{body})()"
            pieces.append(body)
        i = j
    return "|".join(pieces)


def compile_alternation(fragments: Sequence[str]) -> re.Pattern[str]:
    """A pattern that matches where `"|".join(fragments)` does (for `search` as a test)."""
    forms = [form for fragment in fragments for form in _forms(fragment, 0)]
    return re.compile(_emit(forms, 0, None))


class FirstMatch:
    """The first of an ordered list of fragment sections that matches anywhere in a text."""

    def __init__(self, sections: Sequence[Sequence[str]]) -> None:
        forms = [
            form
            for tag, section in enumerate(sections)
            for fragment in section
            for form in _forms(fragment, tag)
        ]
        tags: list[int] = []
        self.pattern = re.compile(_emit([form for form in forms if form.path], 0, tags))
        # Group n is the n-th marker written (fragments have no capturing groups of their own).
        self._tags = [0, *tags]
        if self.pattern.groups != len(tags):
            raise ValueError("a fragment has a capturing group")
        # Forms with no literal start (rare: "^\\d{1,3}$") are searched one by one.
        self._others = [(form.tag, re.compile(_leaf(form))) for form in forms if not form.path]

    def first(self, text: str) -> int | None:
        """The smallest section index with a match in `text`, or None."""
        best: int | None = None
        search, tags, pos = self.pattern.search, self._tags, 0
        # Every position that starts a match, left to right: at each, the first alternative
        # in table order is reported, so the minimum over positions is the answer.
        while (match := search(text, pos)) is not None:
            tag = tags[match.lastindex or 0]
            if best is None or tag < best:
                best = tag
                if tag == 0:
                    return 0
            pos = match.start() + 1
        for tag, pattern in self._others:
            if best is not None and tag >= best:
                break
            if pattern.search(text):
                return tag
        return best
