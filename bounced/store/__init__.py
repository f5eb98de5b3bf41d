"""Storage: the protocols the pipeline talks to (`base.py`) and the SQLite implementation."""

from __future__ import annotations

from bounced.config.storage import StorageConfig
from bounced.store.base import RecordOutcome, Store
from bounced.store.sqlite import SQLiteStore

__all__ = ["RecordOutcome", "SQLiteStore", "Store", "open_backend", "open_store"]


async def open_store(config: StorageConfig, fold_local_case: bool = True) -> SQLiteStore:
    """Open (creating if needed) the SQLite database at `config.path` and run pending migrations.

    `fold_local_case`: [policy] local_part_case is "insensitive" (model.address_key).
    Raises StoreError when the file cannot be opened or its schema is newer than this code."""
    return await SQLiteStore.open(config, fold_local_case)


async def open_backend(config: StorageConfig, fold_local_case: bool = True) -> Store:
    """The store `[storage] backend` asks for: the SQLite file (`open_store`), or with
    "postgresql" this node's store (`store/node.py`: its intake spool at `config.path`,
    everything else in the database at `config.dsn`). StoreUnavailable: the database
    server cannot be reached."""
    if config.backend == "postgresql":
        from bounced.store.node import open_node_store

        return await open_node_store(config, fold_local_case)
    return await open_store(config, fold_local_case)
