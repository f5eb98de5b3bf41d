"""The crash loop, short: 5 SIGKILLs (daemon, acceptors, workers) of a real `bounced serve`
under a stream of distinct bounces; every 250 applied exactly once, report counts exact.

The long run with its figures is `benchmarks/crash_loop.py` (docs/figures.md).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow  # real daemon processes (CI runs them; `-m "not slow"` skips)


def _crash_loop() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bounced_crash_loop", REPO / "benchmarks" / "crash_loop.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


async def test_five_kills_lose_nothing_and_double_nothing(tmp_path: Path) -> None:
    crash_loop = _crash_loop()
    figures = await crash_loop.run(tmp_path, kills=5, clients=4, gap=(0.2, 0.8), seed=5, settle=0.3)
    print(figures.summary())
    assert sum(figures.kills.values()) == 5
    assert {kind for kind, n in figures.kills.items() if n} == {"daemon", "acceptor", "worker"}
    assert len(figures.accepted) >= 100  # the stream really flowed between the kills
    assert figures.lost == []
    assert figures.doubled == []
    assert figures.report_mismatches == []
    assert figures.not_applied == 0
    # Soft bounces went through the report tables: the check compared real cells.
    assert any(crash_loop.is_soft(n) for n in figures.accepted)
    assert figures.events >= len(figures.accepted)
