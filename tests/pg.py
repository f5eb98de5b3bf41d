"""PostgreSQL for tests: a uniquely named database per test on the real server.

`BOUNCED_TEST_PG_DSN` (default postgresql://postgres@127.0.0.1:5432/postgres) names a
server and a database to connect to for CREATE/DROP DATABASE. The schema is migrated once
per session into a template database; each test gets `CREATE DATABASE x TEMPLATE t` (a file
copy, much faster than running the migrations) and the database is dropped afterwards.
Other engineers share the server: every name carries a random part. Under pytest-xdist each
worker is a session of its own: it migrates its own template (no two workers create or copy
one template, so nothing races) and every name carries the worker id (`gw0`; `main` without
xdist), so a database left behind tells whose it was. Without a reachable
server the tests that need one skip, saying so.

Fixtures (imported by tests/conftest.py): `pg_dsn` (the test's database URL) and
`pg_config` (a StorageConfig on it, backend "postgresql").
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import deque
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from bounced.config.storage import StorageConfig
from bounced.store.postgres.connection import PostgresConnection
from tests.xdist_worker import worker_id

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


_TABLES = """SELECT c.relname, c.reltuples FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname <> 'schema_migrations'"""


# The schema as the migrations left it: a test that adds a trigger or a function (to make
# writes fail, say) leaves a database that is dropped rather than reused.
_FINGERPRINT = """SELECT md5(string_agg(x, ',' ORDER BY x)) FROM (
  SELECT 'r:' || c.relname || ':' || c.relkind::text FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'
  UNION ALL SELECT 't:' || t.tgname || ':' || t.tgenabled::text FROM pg_trigger t
    JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public'
  UNION ALL SELECT 'f:' || p.proname || ':' || md5(p.prosrc) FROM pg_proc p
    JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'
  UNION ALL SELECT 'a:' || c.relname || '.' || a.attname || ':' || a.atttypid::text FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND a.attnum > 0 AND NOT a.attisdropped
) s(x)"""


def _fingerprint(name: str) -> str:
    result: list[str] = []

    async def run() -> None:
        conn = await asyncpg.connect(dsn_for(name), timeout=5)
        try:
            result.append(str(await conn.fetchval(_FINGERPRINT)))
        finally:
            await conn.close()

    _run(run())
    return result[0]


def _reset(name: str, fingerprint: str) -> bool:
    """Empty every table of a used test database (ids restart): the state of the template,
    in a few ms instead of a second's drop and create. False if it could not (a session of
    the test still holds a lock)."""

    async def run() -> bool:
        conn = await asyncpg.connect(dsn_for(name), timeout=5)
        try:
            if await conn.fetchval(_FINGERPRINT) != fingerprint:
                return False
            await conn.execute("SET lock_timeout = '2s'")
            tables = [r["relname"] for r in await conn.fetch(_TABLES)]
            sequences = await conn.fetch("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")
            # DELETE, not TRUNCATE (which makes new files: a third of a second); with triggers
            # and foreign keys off (replica role), so the order does not matter.
            script = ["SET session_replication_role = replica"]
            script += [f'DELETE FROM "{t}"' for t in tables]
            script += [f'ALTER SEQUENCE "{s[0]}" RESTART' for s in sequences]
            async with conn.transaction():
                await conn.execute(";\n".join(script))
            return True
        except asyncpg.PostgresError:
            return False
        finally:
            await conn.close()

    result: list[bool] = []

    async def wrapped() -> None:
        result.append(await run())

    _run(wrapped())
    return result[0]


class _Databases:
    """Fresh databases from the template, made ahead of need; a used one is emptied and used
    again (TRUNCATE takes milliseconds, CREATE and DROP DATABASE about a second each)."""

    def __init__(self, template: str, ahead: int = 2) -> None:
        self._template = template
        self._fingerprint = _fingerprint(template)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="pg-fixture")
        self._ready: deque[Future[str]] = deque(self._pool.submit(self._create) for _ in range(ahead))
        self._all: set[str] = set()

    def _create(self) -> str:
        name = f"bounced_t_{worker_id()}_{uuid.uuid4().hex[:16]}"
        _admin(f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"')
        self._all.add(name)
        return name

    def _recycle(self, name: str) -> str:
        if _reset(name, self._fingerprint):
            return name
        self._all.discard(name)
        _drop(name)
        return self._create()

    def take(self) -> str:
        name = self._ready.popleft().result()
        if not self._ready:
            self._ready.append(self._pool.submit(self._create))
        return name

    def give_back(self, name: str) -> None:
        self._ready.append(self._pool.submit(self._recycle, name))

    def close(self) -> None:
        for future in self._ready:
            future.exception()
        self._pool.shutdown()
        for name in self._all:
            _drop(name)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """The name of a database holding every migration (skips when no server answers)."""
    try:
        _admin("SELECT 1")
    except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        pytest.skip(f"PostgreSQL server unreachable at {PG_DSN} (set BOUNCED_TEST_PG_DSN): {exc}")
    name = f"bounced_tpl_{worker_id()}_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE DATABASE "{name}"')
    try:
        _migrate(name)
        yield name
    finally:
        _drop(name)


@pytest.fixture(scope="session")
def _pg_databases(pg_template: str) -> Iterator[_Databases]:
    databases = _Databases(pg_template)
    try:
        yield databases
    finally:
        databases.close()


@pytest.fixture
def pg_dsn(_pg_databases: _Databases) -> Iterator[str]:
    """A fresh, migrated database for this test; dropped afterwards (in the background)."""
    name = _pg_databases.take()
    try:
        yield dsn_for(name)
    finally:
        _pg_databases.give_back(name)


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
