"""Two real `bounced serve` nodes on one PostgreSQL database work 2,000 due queue rows: a real
next hop on loopback (its own process) counts each recipient delivered exactly once, and
both nodes did part of the work. CI-sized run of `benchmarks/nodes_resend.py`."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from tests.conftest import REPO


def _nodes_resend() -> ModuleType:
    path = REPO / "benchmarks" / "nodes_resend.py"
    spec = importlib.util.spec_from_file_location("bounced_nodes_resend", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


async def test_two_nodes_send_each_due_row_exactly_once(tmp_path: Path, pg_dsn: str) -> None:
    figures = await _nodes_resend().run(tmp_path, pg_dsn, rows=2000, nodes=2, concurrency=10, batch=100)
    print(figures.summary())
    assert figures.delivered == 2000
    assert figures.doubled == []
    assert figures.missing == []
    assert figures.queue == {"done": 2000}
    assert set(figures.by_node) == {"a", "b"}  # the work was shared
