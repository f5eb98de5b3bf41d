"""A real SQLite store on a temporary file, opened through `open_store` (all migrations)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bounced.config.storage import StorageConfig
from bounced.store import SQLiteStore, open_store


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = await open_store(StorageConfig(path=str(db_path), busy_timeout=5.0))
    try:
        yield opened
    finally:
        await opened.close()
