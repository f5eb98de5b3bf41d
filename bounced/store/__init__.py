"""Storage: the protocols the pipeline talks to (`base.py`) and the SQLite implementation."""

from __future__ import annotations

from bounced.config.storage import StorageConfig
from bounced.store.base import RecordOutcome, Store
from bounced.store.sqlite import SQLiteStore

__all__ = ["RecordOutcome", "SQLiteStore", "Store", "open_store"]


async def open_store(config: StorageConfig, fold_local_case: bool = True) -> SQLiteStore:
    """Open (creating if needed) the database at `config.path` and run pending migrations.

    `fold_local_case`: [policy] local_part_case is "insensitive" (model.address_key).
    Raises StoreError when the file cannot be opened or its schema is newer than this code."""
    return await SQLiteStore.open(config, fold_local_case)
