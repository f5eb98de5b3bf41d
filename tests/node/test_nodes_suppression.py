"""A suppression added through one node is refused at submission on the other at once: two
real `bounced serve` nodes on one PostgreSQL database; each RCPT reads the central list
(no per-node cache: the same address accepted just before is refused just after)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiosmtplib
import asyncpg

from tests.daemon.test_serve_process import HARD
from tests.node_daemon import NodeDaemon, free_port, rcpt_code

GONE = "jane.doe@example.org"  # the failed recipient of the hard bounce fixture


def _sending(submission_port: int) -> dict[str, dict[str, object]]:
    return {
        "submission": {"enabled": True, "listen": f"127.0.0.1:{submission_port}"},
        "relay": {"port": free_port()},  # nothing is sent in this test
        "verp": {"domain": "bounces.example.com", "secret": "nodes-test-secret-0123456789"},
    }


async def _suppressed(dsn: str, address: str) -> bool:
    conn = await asyncpg.connect(dsn)
    try:
        return bool(await conn.fetchval("SELECT 1 FROM suppressions WHERE address = $1", address))
    finally:
        await conn.close()


async def test_a_bounce_on_one_node_is_refused_at_submission_on_the_other(
    tmp_path: Path, pg_dsn: str
) -> None:
    b_submission = free_port()
    a = NodeDaemon(tmp_path, "a", pg_dsn, extra=_sending(free_port()))
    b = NodeDaemon(tmp_path, "b", pg_dsn, extra=_sending(b_submission))
    await a.start()
    await b.start()
    try:
        assert await rcpt_code(b_submission, GONE) == 250  # not suppressed yet: accepted on b
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=a.port, timeout=30)
        await client.connect()
        await client.sendmail("", ["b@bounces.example.com"], HARD)
        client.close()
        async with asyncio.timeout(30):
            while not await _suppressed(pg_dsn, GONE):
                await asyncio.sleep(0.1)
        assert await rcpt_code(b_submission, GONE) == 550  # refused on b at once
        assert await rcpt_code(b_submission, "someone.else@example.org") == 250
    finally:
        assert await a.stop() == 0
        assert await b.stop() == 0
