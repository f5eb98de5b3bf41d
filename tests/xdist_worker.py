"""Which pytest-xdist worker runs this process: names and port ranges shared with other
workers (and other runs) on one machine carry it or are sliced by it."""

from __future__ import annotations

import os

__all__ = ["worker_count", "worker_id", "worker_index"]


def worker_id() -> str:
    """ "gw0", "gw1", ... under pytest-xdist; "main" without it."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def worker_index() -> int:
    """0, 1, ...: the worker's number (0 without xdist)."""
    name = worker_id()
    return int(name[2:]) if name.startswith("gw") else 0


def worker_count() -> int:
    """How many workers this run has (1 without xdist)."""
    return max(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")), 1)
