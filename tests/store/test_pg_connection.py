"""The PostgreSQL connection base: migrations (once, under an advisory lock), transactions."""

from __future__ import annotations

import asyncio

import pytest

from bounced.config.storage import StorageConfig
from bounced.errors import StoreError
from bounced.store.migration import available_migrations
from bounced.store.postgres.connection import PostgresConnection, connect_problem
from tests.conftest import free_port


async def test_two_nodes_starting_at_once_find_one_schema(pg_config: StorageConfig) -> None:
    nodes = [PostgresConnection(pg_config) for _ in range(3)]
    await asyncio.gather(*(n.connect() for n in nodes))
    try:
        latest = available_migrations("bounced.store.postgres")[-1].version
        for node in nodes:
            assert await node.schema_version() == latest
        rows = await nodes[0]._fetch("SELECT version FROM schema_migrations ORDER BY version")
        expected = [m.version for m in available_migrations("bounced.store.postgres")]
        assert [r["version"] for r in rows] == expected
    finally:
        await asyncio.gather(*(n.close() for n in nodes))


async def test_transaction_rolls_back_and_raises_store_error(pg_config: StorageConfig) -> None:
    conn = PostgresConnection(pg_config)
    await conn.connect()
    try:
        with pytest.raises(StoreError, match="database write failed"):
            async with conn._transaction() as c:
                await c.execute(
                    "INSERT INTO audit_log (at, actor, action, address, reason)"
                    " VALUES (1, 'a', 'x', 'a@b', 'r')"
                )
                await c.execute("INSERT INTO audit_log (id, at) VALUES (1, 2)")  # NOT NULL violated
        assert await conn._fetchval("SELECT count(*) FROM audit_log") == 0
        await conn._execute("INSERT INTO metric_counters (name, n) VALUES ('x', 1)")
        assert await conn._fetchval("SELECT n FROM metric_counters WHERE name = 'x'") == 1
    finally:
        await conn.close()


async def test_unreachable_server_is_one_clear_store_error(tmp_path: object) -> None:
    dsn = f"postgresql://postgres@127.0.0.1:{free_port()}/none"
    problem = await connect_problem(dsn, timeout=2)
    assert problem is not None and problem.startswith("cannot connect to PostgreSQL")
    conn = PostgresConnection(StorageConfig(backend="postgresql", dsn=dsn, busy_timeout=2))
    with pytest.raises(StoreError, match="cannot connect to PostgreSQL"):
        await conn.connect()
