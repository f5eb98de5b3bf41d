"""The report benchmark's PostgreSQL side: the same events as the SQLite fill, in a database
of its own, and the peer's direct GROUP BY there.

The fill copies the cached SQLite store's events (_report_data.py's distributions, so both
backends hold the very same rows) into a fresh database with the real PostgreSQL migrations,
in COPY statements of `_CHUNK` rows: each COPY fires the statement triggers of 0001_core.sql
once, which keep the report counters (nothing writes a counter row directly). A database
that already holds the same fill (marker table `bench_fill`) is reused.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import time
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

__all__ = ["ensure_filled", "fill_marker", "peer_rows"]

_CHUNK = 200_000
_COLUMNS = (
    "id", "received_at", "recipient", "recipient_domain", "kind", "reason", "status", "reply_code",
    "diagnostic", "text_key", "mailing_id", "from_domain", "sending_ip", "message_id", "dedup_key",
)  # fmt: skip


def fill_marker(sqlite_db: Path) -> str:
    """What a filled database must say it holds: the SQLite store it was copied from (its name
    carries the event count and generator digest) and the PostgreSQL migrations' digest."""
    h = hashlib.sha256(sqlite_db.name.encode())
    folder = resources.files("bounced.store.postgres") / "migrations"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".sql"):
            h.update(entry.name.encode() + entry.read_bytes())
    return h.hexdigest()[:16]


def _maintenance_dsn(dsn: str) -> tuple[str, str]:
    """(the same server's `postgres` database, the database `dsn` names)."""
    parts = urlsplit(dsn)
    name = parts.path.lstrip("/")
    if not name:
        raise SystemExit(f"--dsn: expected postgresql://user@host:port/DATABASE, got {dsn!r}")
    return urlunsplit(parts._replace(path="/postgres")), name


async def _marker(dsn: str) -> str | None:
    admin_dsn, name = _maintenance_dsn(dsn)
    admin = await asyncpg.connect(admin_dsn)
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return None
    finally:
        await admin.close()
    conn = await asyncpg.connect(dsn)
    try:
        if not await conn.fetchval("SELECT to_regclass('bench_fill') IS NOT NULL"):
            return ""
        found: str | None = await conn.fetchval("SELECT marker FROM bench_fill")
        return found or ""
    finally:
        await conn.close()


async def _recreate(dsn: str) -> None:
    admin_dsn, name = _maintenance_dsn(dsn)
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


async def _migrate(dsn: str) -> None:
    """The real schema: the store's own migrations, as `bounced serve` runs them."""
    from bounced.config.storage import StorageConfig
    from bounced.store import open_store

    store = await open_store(StorageConfig(backend="postgresql", dsn=dsn))
    await store.close()


async def _copy(dsn: str, sqlite_db: Path, marker: str) -> None:
    src = sqlite3.connect(f"file:{sqlite_db}?mode=ro", uri=True)
    conn = await asyncpg.connect(dsn)
    # The triggers sort and group each COPY's rows: room for that in memory, not on disk.
    await conn.execute("SET work_mem = '256MB'")
    started = time.monotonic()
    done = 0
    try:
        cursor = src.execute(f"SELECT {', '.join(_COLUMNS)} FROM bounce_events ORDER BY id")
        while chunk := cursor.fetchmany(_CHUNK):
            await conn.copy_records_to_table("bounce_events", records=chunk, columns=_COLUMNS)
            done += len(chunk)
            if done % 1_000_000 == 0:
                print(f"  copied {done:,} events in {time.monotonic() - started:.0f} s", flush=True)
        await conn.execute(
            "SELECT setval(pg_get_serial_sequence('bounce_events', 'id'), max(id)) FROM bounce_events"
        )
        await conn.execute("VACUUM (ANALYZE) bounce_events")
        await conn.execute("ANALYZE")
        await conn.execute("CREATE TABLE bench_fill (marker TEXT NOT NULL)")
        await conn.execute("INSERT INTO bench_fill VALUES ($1)", marker)
    finally:
        await conn.close()
        src.close()
    print(f"  {done:,} events into PostgreSQL in {time.monotonic() - started:.0f} s", flush=True)


def ensure_filled(dsn: str, sqlite_db: Path) -> None:
    """The database `dsn` names holds `sqlite_db`'s events (filled now unless it already did)."""
    marker = fill_marker(sqlite_db)

    async def main() -> None:
        if await _marker(dsn) == marker:
            return
        print(f"filling {dsn} from {sqlite_db.name} (once; reused while it matches) ...", flush=True)
        await _recreate(dsn)
        await _migrate(dsn)
        await _copy(dsn, sqlite_db, marker)

    asyncio.run(main())


async def peer_rows(dsn: str, sql: str, start_us: int, end_us: int) -> tuple[float, list[asyncpg.Record]]:
    """The peer's query (`?` marks) on PostgreSQL: seconds of the query alone, its rows."""
    from bounced.store.postgres.sql import numbered

    conn = await asyncpg.connect(dsn)
    try:
        began = time.perf_counter()
        rows = await conn.fetch(numbered(sql), start_us, end_us)
        return time.perf_counter() - began, rows
    finally:
        await conn.close()


if __name__ == "__main__":  # report.py runs the fill here: `_report_pg.py DSN SQLITE_DB`
    import sys

    ensure_filled(sys.argv[1], Path(sys.argv[2]))
