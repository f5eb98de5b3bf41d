"""Shared fixtures: real loopback ports, real SQLite files, the shared corpus."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bounced.config.storage import StorageConfig
from bounced.store import SQLiteStore, open_store

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@pytest.fixture
def corpus() -> Path:
    if not (CORPUS / "expected.jsonl").is_file():
        pytest.skip(f"bounce corpus not found at {CORPUS} (shared/corpus is absent)")
    return CORPUS


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "bounced.sqlite3"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SQLiteStore]:
    """A real SQLite store on a temporary file, opened through `open_store` (all migrations)."""
    opened = await open_store(StorageConfig(path=str(db_path), busy_timeout=5.0))
    try:
        yield opened
    finally:
        await opened.close()
