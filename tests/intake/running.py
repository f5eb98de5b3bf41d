"""A daemon with two acceptor processes for the intake tests, and what it has spooled."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from tests.harness import RunningDaemon, make_config, running_daemon

__all__ = ["acceptor_daemon", "intake_column"]


@contextlib.asynccontextmanager
async def acceptor_daemon(tmp_path: Path, **smtp: Any) -> AsyncIterator[RunningDaemon]:
    """Bounces for bounces.example.com, unsigned ones trusted, `smtp` overriding [smtp]."""
    smtp = {"domains": ["bounces.example.com"], "acceptors": 2, **smtp}
    config = make_config(tmp_path, smtp=smtp, verp={"unsigned_bounces": "suppress"})
    async with running_daemon(config) as d:
        yield d


def intake_column(db: str, column: str) -> list[Any]:
    """`column` of every intake row in id order, read from the file as another process would."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [row[0] for row in conn.execute(f"SELECT {column} FROM intake ORDER BY id")]
    finally:
        conn.close()
