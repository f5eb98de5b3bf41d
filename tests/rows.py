"""Reading a store's tables directly in tests, on either backend (one SQL text: `?` marks)."""

from __future__ import annotations

import sqlite3
from typing import Any

from bounced.store import PostgresStore, SQLiteStore, Store
from bounced.store.postgres.sql import numbered

__all__ = ["table_rows"]


async def table_rows(store: Store, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """The rows of `sql`, read on a connection of its own (what a fresh reader sees)."""
    if isinstance(store, PostgresStore):
        return [tuple(r) for r in await store._fetch(numbered(sql), *params)]
    assert isinstance(store, SQLiteStore)
    with sqlite3.connect(store.path) as conn:
        return [tuple(r) for r in conn.execute(sql, params).fetchall()]
