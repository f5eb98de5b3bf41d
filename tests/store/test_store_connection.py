"""Opening the database: pragmas, migrations in order, re-opening, refusing newer schemas."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bounced.config.storage import StorageConfig
from bounced.errors import StoreError
from bounced.store import open_store
from bounced.store.sqlite.connection import (
    available_migrations,
    from_micros,
    split_statements,
    to_micros,
)


def _user_version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


async def test_migrations_apply_in_order_and_reopen_is_a_no_op(db_path: Path) -> None:
    migrations = available_migrations()
    assert [m.version for m in migrations] == sorted(m.version for m in migrations)
    assert migrations[0].version == 1
    store = await open_store(StorageConfig(path=str(db_path)))
    await store.close()
    assert _user_version(db_path) == migrations[-1].version
    with sqlite3.connect(db_path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        columns = {r[1] for r in conn.execute("PRAGMA table_info(intake)")}
    assert {"intake", "bounce_events", "profiles", "suppressions", "audit_log"} <= tables
    assert "message_type" in columns

    again = await open_store(StorageConfig(path=str(db_path)))
    try:
        assert await again.schema_version() == migrations[-1].version
    finally:
        await again.close()


async def test_wal_full_sync_and_foreign_keys(db_path: Path) -> None:
    store = await open_store(StorageConfig(path=str(db_path), busy_timeout=2.5))
    try:
        writer = store._writer
        assert (await (await writer.execute("PRAGMA journal_mode")).fetchone())[0] == "wal"
        assert (await (await writer.execute("PRAGMA synchronous")).fetchone())[0] == 2  # FULL
        assert (await (await writer.execute("PRAGMA foreign_keys")).fetchone())[0] == 1
        assert (await (await writer.execute("PRAGMA busy_timeout")).fetchone())[0] == 2500
    finally:
        await store.close()


async def test_database_newer_than_code_is_refused(db_path: Path) -> None:
    with sqlite3.connect(db_path) as conn:
        conn.execute("PRAGMA user_version = 999")
    with pytest.raises(StoreError, match="schema version 999"):
        await open_store(StorageConfig(path=str(db_path)))


async def test_missing_directory_is_a_clear_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        await open_store(StorageConfig(path=str(tmp_path / "nope" / "db.sqlite3")))


async def test_failed_migration_leaves_the_old_version(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bounced.store.sqlite import connection

    real = connection.available_migrations()
    broken = [*real, connection.Migration(real[-1].version + 1, "9999_broken.sql", "CREATE TABLE x (;")]
    monkeypatch.setattr(connection, "available_migrations", lambda: broken)
    with pytest.raises(StoreError):
        await open_store(StorageConfig(path=str(db_path)))
    assert _user_version(db_path) == 0  # all-or-nothing: the whole upgrade rolled back


def test_split_statements_keeps_triggers_whole() -> None:
    script = """
    -- a comment; with a semicolon
    CREATE TABLE a (x INTEGER);
    CREATE TRIGGER t AFTER INSERT ON a BEGIN
        UPDATE a SET x = x + 1;
    END;
    """
    statements = split_statements(script)
    assert len(statements) == 2
    assert statements[1].startswith("CREATE TRIGGER") and statements[1].endswith("END;")


def test_times_round_trip_in_microseconds() -> None:
    moment = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
    assert from_micros(to_micros(moment)) == moment
    assert to_micros(datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)) == 1_000_000
    with pytest.raises(StoreError, match="naive"):
        to_micros(datetime(2026, 1, 1))


async def test_two_stores_on_one_file_write_concurrently(db_path: Path) -> None:
    # The admin CLI and the daemon each hold a writer: busy_timeout makes them take turns.
    import asyncio

    first = await open_store(StorageConfig(path=str(db_path), busy_timeout=10.0))
    second = await open_store(StorageConfig(path=str(db_path), busy_timeout=10.0))
    now = datetime(2026, 5, 1, tzinfo=UTC)
    try:
        spools = [first.spool(b"Subject: a\r\n\r\n", "", ["b@x.test"], "127.0.0.1", now) for _ in range(50)]
        adds = [second.add_suppression(f"u{i}@example.com", "test", "alice", now) for i in range(50)]
        results = await asyncio.gather(*spools, *adds)
        assert all(results[50:])
        assert len(await second.pending_intake(limit=100)) == 50
        assert await first.count_suppressions() == 50
    finally:
        await first.close()
        await second.close()


async def test_a_file_that_is_not_a_database_is_a_store_error(db_path: Path) -> None:
    db_path.write_bytes(b"this is a text file, not SQLite\n" * 100)
    with pytest.raises(StoreError, match="cannot be opened as a database: file is not a database"):
        await open_store(StorageConfig(path=str(db_path)))


async def test_close_waits_for_queued_spools(db_path: Path) -> None:
    import asyncio

    store = await open_store(StorageConfig(path=str(db_path)))
    now = datetime(2026, 5, 1, tzinfo=UTC)
    spools = [
        asyncio.create_task(store.spool(b"S: x\r\n\r\n", "", ["b@x.test"], "::1", now)) for _ in range(20)
    ]
    await asyncio.sleep(0)  # all queued
    await store.close()
    ids = await asyncio.gather(*spools)
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM intake").fetchone()[0] == len(set(ids)) == 20
