"""Shared fixtures: real loopback ports, real SQLite files, the shared corpus."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

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
