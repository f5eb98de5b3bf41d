"""Migration 0006: recipient-side addresses folded to one case, case variants merged."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bounced.config.storage import StorageConfig
from bounced.store import open_store
from bounced.store.sqlite.connection import available_migrations, split_statements
from tests.store_helpers import is_suppressed


def _database_before_0006(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        for migration in available_migrations():
            if migration.version >= 6:
                break
            for statement in split_statements(migration.sql):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {migration.version}")
        conn.executemany(
            "INSERT INTO suppressions (address, reason, created_at, created_by) VALUES (?, ?, ?, 'bounce')",
            [("Unknown1@dest.example", "userunknown", 2), ("unknown1@dest.example", "complaint", 1),
             ("UNKNOWN1@dest.example", "hostunknown", 3), ("Solo@dest.example", "admin", 4)],
        )  # fmt: skip
        conn.executemany(
            "INSERT INTO profiles (address, status, bounce_count, soft_bounce_count, hard_bounce_count,"
            " last_bounce_at, last_bounce_reason, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [("Kim@dest.example", "active", 2, 2, 0, 10, "mailboxfull", 5, 10),
             ("kim@dest.example", "hard_bounced", 1, 0, 1, 20, "userunknown", 3, 20)],
        )  # fmt: skip


async def test_existing_rows_are_folded_and_merged(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    _database_before_0006(path)
    store = await open_store(StorageConfig(path=str(path)))
    try:
        entries = await store.list_suppressions()
        assert [(e.address, e.reason) for e in entries] == [
            ("unknown1@dest.example", "complaint"),  # the oldest of the three variants stays
            ("solo@dest.example", "admin"),
        ]
        assert await is_suppressed(store, "UNKNOWN1@DEST.EXAMPLE")
        profile = await store.get_profile("KIM@dest.example")
        assert profile is not None and profile.address == "kim@dest.example"
        assert profile.status.value == "hard_bounced"
        assert (profile.bounce_count, profile.soft_bounce_count, profile.hard_bounce_count) == (3, 2, 1)
        assert profile.last_bounce_reason == "userunknown"
    finally:
        await store.close()
