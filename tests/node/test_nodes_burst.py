"""Two real `bounced serve` nodes on one PostgreSQL database under a burst of distinct bounces
over real SMTP: one node SIGKILLed mid-burst and started again; the database connection cut
mid-burst by a TCP proxy (never the shared server). Every 250 is applied exactly once.

CI-sized runs of `benchmarks/nodes_burst.py` (the full-size figures: docs/nodes.md).
The cut lasts BOUNCED_TEST_CUT_SECONDS (default 5).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

from tests.conftest import REPO

CUT_SECONDS = float(os.environ.get("BOUNCED_TEST_CUT_SECONDS", "5"))


def _nodes_burst() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "bounced_nodes_burst", REPO / "benchmarks" / "nodes_burst.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def _check(figures: object) -> None:
    print(figures.summary())  # type: ignore[attr-defined]
    assert figures.lost == []  # type: ignore[attr-defined]
    assert figures.doubled == []  # type: ignore[attr-defined]
    assert figures.report_mismatches == []  # type: ignore[attr-defined]
    assert figures.counter_mismatches == []  # type: ignore[attr-defined]
    assert figures.not_applied == 0  # type: ignore[attr-defined]
    assert len(figures.accepted) == figures.count  # type: ignore[attr-defined]


async def test_a_node_killed_mid_burst_loses_nothing_and_doubles_nothing(tmp_path: Path, pg_dsn: str) -> None:
    burst = _nodes_burst()
    figures = await burst.run(tmp_path, pg_dsn, count=1200, clients=8, kill=True, kill_at=0.4, down=0.5)
    _check(figures)
    assert figures.kills == 1
    accepted_by = set(figures.accepted.values())
    assert accepted_by == {"a", "b"}  # both nodes took their share
    assert figures.events == figures.count  # one event per distinct bounce, none doubled
    assert set(figures.central_intake) == {"a", "b"}


async def test_a_cut_database_connection_refuses_no_bounce_and_drains_after(
    tmp_path: Path, pg_dsn: str
) -> None:
    burst = _nodes_burst()
    figures = await burst.run(tmp_path, pg_dsn, count=800, clients=8, kill=False, cut=CUT_SECONDS, cut_at=0.2)
    _check(figures)
    assert figures.refused == {} and figures.failovers == 0  # every bounce got 250 at once
    assert figures.cut_seconds >= CUT_SECONDS
    # While cut, both nodes said so: /readyz 503 naming the central store, the metric 0.
    assert figures.ready_during_cut == ["503 unreachable"] * 2
    assert figures.central_up_during_cut == [0.0, 0.0]
    assert figures.backlog_during_cut > 0
