"""The fuzz benchmark's generated monsters (benchmarks/fuzz_parse.py), in the suite without
timing: none escapes parse as an exception or trips the last-resort guard, and every one
bigger than a cap says that the cap cut it. CPU and memory figures: docs/figures.md."""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path
from types import ModuleType

import pytest

from bounced.parse import parse_message
from bounced.parse.mime import MAX_PARSE_BYTES
from bounced.parse.scan import MAX_FAILURES

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _fuzz_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bounced_fuzz_benchmark", BENCHMARKS / "fuzz_parse.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(BENCHMARKS))  # fuzz_parse imports its sibling `_corpus`
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module


FUZZ = _fuzz_module()
MONSTERS = list(FUZZ.monsters())


@pytest.mark.parametrize(("name", "raw"), MONSTERS, ids=[name for name, _ in MONSTERS])
def test_monster_parses_and_says_what_was_cut(name: str, raw: bytes) -> None:
    parsed = parse_message(raw)
    assert not any(d.startswith("parse error") for d in parsed.defects), parsed.defects
    assert ("max_parse_bytes" in parsed.truncated) == (len(raw) > MAX_PARSE_BYTES)
    assert ("max_failures" in parsed.truncated) == (len(parsed.failures) == MAX_FAILURES)


def test_nested_reports_find_the_outer_recipient() -> None:
    parsed = parse_message(dict(MONSTERS)["dsn-in-dsn-in-dsn"])
    assert [f.recipient for f in parsed.failures] == ["u0@isp.example"]


def test_mutations_are_seeded() -> None:
    raw = dict(MONSTERS)["dsn-in-dsn-in-dsn"]
    assert FUZZ.mutate(raw, random.Random(7)) == FUZZ.mutate(raw, random.Random(7))
