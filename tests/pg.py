"""PostgreSQL for tests: a uniquely named database per test on the real server.

`BOUNCED_TEST_PG_DSN` (default postgresql://postgres@127.0.0.1:5432/postgres) names a
server and a database to connect to for CREATE/DROP DATABASE. The schema is migrated once
per session into a template database; each test gets `CREATE DATABASE x TEMPLATE t` (a file
copy, much faster than running the migrations) and the database is dropped afterwards.
Other engineers share the server: every name carries a random part. Without a reachable
server the tests that need one skip, saying so.

Fixtures (imported by tests/conftest.py): `pg_dsn` (the test's database URL) and
`pg_config` (a StorageConfig on it, backend "postgresql").
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from bounced.config.storage import StorageConfig
from bounced.store.postgres.connection import PostgresConnection

__all__ = ["PG_DSN", "dsn_for", "pg_config", "pg_dsn", "pg_template"]

PG_DSN = os.environ.get("BOUNCED_TEST_PG_DSN") or "postgresql://postgres@127.0.0.1:5432/postgres"


def dsn_for(database: str, base: str = PG_DSN) -> str:
    """`base` with its database replaced by `database`."""
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=f"/{database}"))


def _run(coro: Coroutine[Any, Any, None]) -> None:
    """Run `coro` to the end on a loop of its own, in a thread (fixtures set up from inside a
    running test loop cannot use asyncio.run there)."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coro).result()


def _admin(sql: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(PG_DSN, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    _run(run())


def _drop(database: str) -> None:
    _admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _migrate(database: str) -> None:
    async def run() -> None:
        conn = PostgresConnection(StorageConfig(backend="postgresql", dsn=dsn_for(database), pool_size=1))
        await conn.connect()
        await conn.close()

    _run(run())


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """The name of a database holding every migration (skips when no server answers)."""
    try:
        _admin("SELECT 1")
    except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        pytest.skip(f"PostgreSQL server unreachable at {PG_DSN} (set BOUNCED_TEST_PG_DSN): {exc}")
    name = f"bounced_tpl_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE DATABASE "{name}"')
    try:
        _migrate(name)
        yield name
    finally:
        _drop(name)


@pytest.fixture
def pg_dsn(pg_template: str) -> Iterator[str]:
    """A fresh, migrated database for this test; dropped afterwards."""
    name = f"bounced_t_{uuid.uuid4().hex[:16]}"
    _admin(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    try:
        yield dsn_for(name)
    finally:
        _drop(name)


@pytest.fixture
def pg_config(pg_dsn: str, tmp_path: Path) -> StorageConfig:
    """[storage] for the test's database (the local spool file under tmp_path)."""
    return StorageConfig(
        backend="postgresql",
        dsn=pg_dsn,
        pool_size=4,
        node="test-node",
        path=str(tmp_path / "spool.sqlite3"),
        busy_timeout=5.0,
    )
