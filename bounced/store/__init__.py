"""Storage: the protocols the pipeline talks to (`base.py`) and their implementations, on
SQLite (`sqlite/`, the default) and PostgreSQL (`postgres/`, several nodes on one database)."""

from __future__ import annotations

from bounced.config.storage import StorageConfig
from bounced.store.base import RecordOutcome, Store

__all__ = ["RecordOutcome", "Store", "open_backend", "open_store"]


async def open_store(config: StorageConfig, fold_local_case: bool = True) -> Store:
    """Open the store `config.backend` names and run pending migrations: the SQLite file at
    `config.path` (created if needed), or the PostgreSQL database at `config.dsn`.

    `fold_local_case`: [policy] local_part_case is "insensitive" (model.address_key).
    Raises StoreError when the database cannot be opened or its schema is newer than this code."""
    # Each backend is imported only when opened: a report on SQLite does not load asyncpg.
    if config.backend == "postgresql":
        from bounced.store.postgres import PostgresStore

        return await PostgresStore.open(config, fold_local_case)
    from bounced.store.sqlite import SQLiteStore

    return await SQLiteStore.open(config, fold_local_case)


async def open_backend(config: StorageConfig, fold_local_case: bool = True) -> Store:
    """What `bounced serve` and the CLI open: with "sqlite" the file (`open_store`); with
    "postgresql" this node's store (`store/node.py`): its intake spool at `config.path`
    (intake commands see this node's spool), everything else in the database at
    `config.dsn`. StoreUnavailable: the database server cannot be reached."""
    if config.backend == "postgresql":
        from bounced.store.node import open_node_store

        return await open_node_store(config, fold_local_case)
    return await open_store(config, fold_local_case)
