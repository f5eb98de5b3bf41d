"""Looking into a store's tables from a test, on either backend (SQLite file or PostgreSQL).

Tests read rows the store API does not show (how many outbox rows exist) or break the
database on purpose; these helpers speak to the store's own database, never through a
mock."""

from __future__ import annotations

import sqlite3
from typing import Any

from bounced.store.postgres import PostgresStore
from bounced.store.postgres.sql import numbered
from bounced.store.sqlite import SQLiteStore

__all__ = ["count", "execute", "fail_writes", "rows", "scalar"]


async def scalar(store: Any, sql: str) -> Any:
    """The first column of the first row of `sql` (no parameters)."""
    if isinstance(store, PostgresStore):
        return await store._fetchval(sql)
    assert isinstance(store, SQLiteStore)
    with sqlite3.connect(store.path) as conn:
        row = conn.execute(sql).fetchone()
    return None if row is None else row[0]


async def rows(store: Any, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Every row of `sql` (parameters marked `?`), as tuples, read on a connection of its
    own (what a fresh reader sees)."""
    if isinstance(store, PostgresStore):
        return [tuple(r) for r in await store._fetch(numbered(sql), *params)]
    with sqlite3.connect(store.path) as conn:
        return [tuple(r) for r in conn.execute(sql, params).fetchall()]


async def count(store: Any, table: str) -> int:
    return int(await scalar(store, f"SELECT COUNT(*) FROM {table}"))


async def execute(store: Any, sql: str) -> None:
    if isinstance(store, PostgresStore):
        await store._execute(sql)
        return
    with sqlite3.connect(store.path) as conn:
        conn.executescript(sql)


async def fail_writes(store: Any, table: str, on: bool, operation: str = "UPDATE") -> None:
    """While `on`, every `operation` (INSERT, UPDATE) on `table` fails ("disk on fire"): a
    transaction that makes one is rolled back."""
    if isinstance(store, PostgresStore):
        if on:
            await store._execute(
                "CREATE FUNCTION fail_mark() RETURNS trigger LANGUAGE plpgsql AS"
                " $$BEGIN RAISE EXCEPTION 'disk on fire'; END$$;"
                f" CREATE TRIGGER fail_mark BEFORE {operation} ON {table} FOR EACH ROW"
                " EXECUTE FUNCTION fail_mark()"
            )
        else:
            await store._execute(f"DROP TRIGGER fail_mark ON {table}; DROP FUNCTION fail_mark()")
        return
    if on:
        await execute(
            store,
            f"CREATE TRIGGER fail_mark BEFORE {operation} ON {table}"
            " BEGIN SELECT RAISE(ABORT, 'disk on fire'); END",
        )
    else:
        await execute(store, "DROP TRIGGER fail_mark")
