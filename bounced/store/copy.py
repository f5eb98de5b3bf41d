"""`bounced storage copy`: an existing SQLite installation into a PostgreSQL database.

Every table of the installation is copied with its ids, in batches, each batch one INSERT
... ON CONFLICT (primary key) DO UPDATE ... WHERE the row differs, committed on its own: a
run that stops half-way is resumed by running it again, a run over rows already there
writes nothing (and says so), and a row the source changed since an earlier run is
brought up to date. The source is read in one read transaction (a consistent snapshot even
while a daemon still writes to it; copy again after stopping it to take the rest).

Derived tables are not copied as rows: the soft-bounce report cells are rebuilt by the
target's triggers as the events go in (exact, like SQLite's), and the /metrics counters,
whose history the rows cannot tell (removed suppressions), are set to the source's values.
At the end each table's rows are counted on both sides (the report cells by count and sum);
a difference is an error. Sequences are moved past the copied ids.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from bounced.config.storage import StorageConfig
from bounced.errors import StoreError
from bounced.store.postgres import PostgresStore
from bounced.store.postgres.sql import rowcount
from bounced.store.sqlite import SQLiteStore

__all__ = ["COPIED_TABLES", "CopyResult", "TableCopy", "copy_sqlite_to_postgres"]

# In dependency order (foreign keys): a row's references are copied before it.
COPIED_TABLES = (
    "intake",
    "bounce_events",
    "profiles",
    "suppressions",
    "audit_log",
    "outbound_messages",
    "deliveries",
    "resend_jobs",
    "non_deliveries",
    "submission_refusals",
    "guard_trips",
    "quarantine",
    "webhook_events",
    "webhook_cursors",
    "webhook_deliveries",
)
_SET_TABLES = ("metric_counters",)  # the target takes the source's values
_DERIVED = ("report_soft_daily", "report_soft_monthly")  # rebuilt by triggers; verified
_BATCH_BYTES = 8 * 1024 * 1024  # intake rows carry whole messages
_BATCH_ROWS = 5000


@dataclass(slots=True)
class TableCopy:
    table: str
    source: int = 0  # rows in the source snapshot
    copied: int = 0  # rows this run inserted
    target: int = 0  # rows in the target afterwards
    source_sum: int | None = None  # derived tables: the sum of their counts
    target_sum: int | None = None

    @property
    def matches(self) -> bool:
        return self.source == self.target and self.source_sum == self.target_sum


@dataclass(slots=True)
class CopyResult:
    tables: list[TableCopy]

    @property
    def copied(self) -> int:
        return sum(t.copied for t in self.tables)

    @property
    def mismatches(self) -> list[TableCopy]:
        return [t for t in self.tables if not t.matches]


Progress = Callable[[TableCopy], None]


async def copy_sqlite_to_postgres(
    sqlite_path: str, dsn: str, batch_rows: int = _BATCH_ROWS, progress: Progress | None = None
) -> CopyResult:
    """Copy the installation at `sqlite_path` into the database at `dsn` (see the module
    docstring). Both schemas are brought up to date first. Raises StoreError when either
    cannot be opened or their tables do not fit together."""
    source_store = await SQLiteStore.open(StorageConfig(path=sqlite_path))  # its migrations
    await source_store.close()
    target = await PostgresStore.open(StorageConfig(backend="postgresql", dsn=dsn, pool_size=2))
    source = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True, check_same_thread=False)
    try:
        await asyncio.to_thread(source.execute, "BEGIN")  # one snapshot for the whole run
        results = []
        for table in COPIED_TABLES:
            result = await _copy_table(source, target, table, batch_rows)
            results.append(result)
            if progress is not None:
                progress(result)
        for table in _SET_TABLES:
            results.append(await _set_counters(source, target, table))
        for table in _DERIVED:
            results.append(await _compare_sums(source, target, table))
        await _reset_sequences(target)
        return CopyResult(results)
    except (sqlite3.Error, asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
        raise StoreError(f"copy failed: {type(exc).__name__}: {exc}") from exc
    finally:
        source.close()
        await target.close()


def _read(source: sqlite3.Connection, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in source.execute(sql, params).fetchall()]


async def _columns(
    source: sqlite3.Connection, target: PostgresStore, table: str
) -> tuple[list[str], list[str], dict[str, str]]:
    """(columns to copy, the source's primary key, target column -> element type)."""
    info = await asyncio.to_thread(_read, source, f"PRAGMA table_info({table})")
    names = [r[1] for r in info]
    key = [r[1] for r in sorted(info, key=lambda r: r[5]) if r[5]]
    types = {
        r[0]: r[1]
        for r in await target._fetch(
            "SELECT column_name, udt_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = $1",
            table,
        )
    }
    if not names or not types:
        raise StoreError(f"table {table} missing in the {'source' if not names else 'target'} database")
    missing = [n for n in names if n not in types]
    if missing:
        raise StoreError(
            f"table {table}: the target has no column {', '.join(missing)} (schema versions differ)"
        )
    return names, key or ["rowid"], types


async def _copy_table(
    source: sqlite3.Connection, target: PostgresStore, table: str, batch_rows: int
) -> TableCopy:
    names, key, types = await _columns(source, target, table)
    result = TableCopy(table)
    result.source = int((await asyncio.to_thread(_read, source, f"SELECT COUNT(*) FROM {table}"))[0][0])
    # A row already there is left alone when equal, brought up to date when the source
    # changed it since an earlier run (a queue row that went on from 'pending').
    others = [n for n in names if n not in key]
    insert = (
        f"INSERT INTO {table} AS t ({', '.join(names)}) SELECT * FROM unnest("
        + ", ".join(f"${i}::{types[n]}[]" for i, n in enumerate(names, 1))
        + f") ON CONFLICT ({', '.join(key)}) DO UPDATE SET "
        + ", ".join(f"{n} = excluded.{n}" for n in others)
        + f" WHERE ({', '.join(f't.{n}' for n in others)}) IS DISTINCT FROM"
        + f" ({', '.join(f'excluded.{n}' for n in others)})"
    )
    # Keyset pages on the primary key (row values: one index range per page, however big).
    select = f"SELECT {', '.join(names)}, {', '.join(key)} FROM {table}"
    order = f" ORDER BY {', '.join(key)} LIMIT ?"
    after: tuple[Any, ...] | None = None
    limit = 200 if table in ("intake", "outbound_messages") else batch_rows
    while True:
        where = "" if after is None else f" WHERE ({', '.join(key)}) > ({', '.join('?' * len(key))})"
        page = await asyncio.to_thread(_read, source, select + where + order, (*(after or ()), limit))
        if not page:
            break
        after = page[-1][len(names) :]
        for batch in _by_bytes([r[: len(names)] for r in page]):
            columns = [list(c) for c in zip(*batch, strict=True)]
            async with target._transaction() as conn:
                result.copied += rowcount(await conn.execute(insert, *columns))
    result.target = int(await target._fetchval(f"SELECT COUNT(*) FROM {table}"))
    return result


def _by_bytes(rows: list[tuple[Any, ...]]) -> list[list[tuple[Any, ...]]]:
    """`rows` in batches of at most _BATCH_BYTES of bytes values (and at least one row)."""
    batches: list[list[tuple[Any, ...]]] = [[]]
    size = 0
    for row in rows:
        weight = sum(len(v) for v in row if isinstance(v, bytes | str))
        if batches[-1] and size + weight > _BATCH_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(row)
        size += weight
    return batches


async def _set_counters(source: sqlite3.Connection, target: PostgresStore, table: str) -> TableCopy:
    """The /metrics counters take the source's values (the triggers counted the copied rows
    again; the rows cannot tell what was removed)."""
    rows = await asyncio.to_thread(_read, source, f"SELECT name, k1, k2, n FROM {table}")
    result = TableCopy(table, source=len(rows), source_sum=sum(int(r[3]) for r in rows))
    async with target._transaction() as conn:
        before = {
            (r[0], r[1], r[2]): int(r[3]) for r in await conn.fetch(f"SELECT name, k1, k2, n FROM {table}")
        }
        await conn.execute(f"DELETE FROM {table}")
        await conn.executemany(f"INSERT INTO {table} (name, k1, k2, n) VALUES ($1, $2, $3, $4)", rows)
    result.copied = sum(1 for r in rows if before.get((r[0], r[1], r[2])) != int(r[3]))
    result.target, result.target_sum = await _count_and_sum(target, table, "n")
    return result


async def _compare_sums(source: sqlite3.Connection, target: PostgresStore, table: str) -> TableCopy:
    [(rows, total)] = await asyncio.to_thread(
        _read, source, f"SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM {table}"
    )
    result = TableCopy(table, source=int(rows), source_sum=int(total))
    result.target, result.target_sum = await _count_and_sum(target, table, "amount")
    return result


async def _count_and_sum(target: PostgresStore, table: str, column: str) -> tuple[int, int]:
    row = await target._fetchrow(f"SELECT COUNT(*), COALESCE(SUM({column}), 0) FROM {table}")
    assert row is not None
    return int(row[0]), int(row[1])


async def _reset_sequences(target: PostgresStore) -> None:
    """Each id sequence past the copied ids: the next row a node writes gets a new id."""
    for row in await target._fetch(
        "SELECT table_name, pg_get_serial_sequence(table_name, 'id') FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND column_name = 'id' AND table_name = ANY($1::text[])",
        list(COPIED_TABLES),
    ):
        table, sequence = row[0], row[1]
        if sequence is not None:
            await target._fetchval(
                f"SELECT setval($1, GREATEST((SELECT MAX(id) FROM {table}), 1),"
                f" (SELECT MAX(id) FROM {table}) IS NOT NULL)",
                sequence,
            )
