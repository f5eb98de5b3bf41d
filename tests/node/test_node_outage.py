"""A real `bounced serve` node with every part on (intake, submission, the resend queue,
webhooks, the HTTP API) rides out a cut database connection: intake answers 250, /readyz
says why it is not ready, submission answers 451 (it cannot check the suppression list),
no part dies; when the connection is back everything flows again. The cut is made by a TCP
proxy between the node and the real PostgreSQL server (never the shared server itself)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiosmtplib

from tests.daemon.test_serve_process import HARD
from tests.node_daemon import NodeDaemon, free_port, rcpt_code
from tests.submission.nexthop import NextHop
from tests.tcp_proxy import TcpProxy

GONE = "jane.doe@example.org"  # the failed recipient of the hard bounce fixture
SECRET = "outage-test-webhook-secret-0123456789"


async def _ready(node: NodeDaemon, timeout: float = 30.0) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            status, body = await node.readyz()
            if status == 200:
                return body
            await asyncio.sleep(0.2)


def _node(tmp_path: Path, dsn: str, receiver: Any, **extra: dict[str, object]) -> NodeDaemon:
    """Node a on `dsn`, its webhook events to `receiver`, polling often."""
    sections: dict[str, dict[str, object]] = {
        "": {"webhooks": [{"url": receiver.url, "secret": SECRET}]},
        "webhook_delivery": {"poll_interval": 0.2},
        **extra,
    }
    return NodeDaemon(tmp_path, "a", dsn, extra=sections)


async def test_every_part_rides_out_a_cut_database(tmp_path: Path, pg_dsn: str, receiver: Any) -> None:
    hop = await NextHop().start()
    proxy, dsn = await TcpProxy.before(pg_dsn)
    submission = free_port()
    node = _node(
        tmp_path,
        dsn,
        receiver,
        submission={"enabled": True, "listen": f"127.0.0.1:{submission}"},
        relay={"port": hop.port},
        verp={"domain": "bounces.example.com", "secret": "outage-test-verp-secret-0123"},
        resend={"poll_interval": 0.2},
    )
    await node.start()
    try:
        await _ready(node)
        await proxy.cut()
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=node.port, timeout=30)
        await smtp.connect()
        _, reply = await smtp.sendmail("", ["b@bounces.example.com"], HARD)
        smtp.close()
        assert reply.startswith("2.0.0")  # 250: spooled locally
        assert await rcpt_code(submission, "reader@dest.example") == 451
        status, body = await node.readyz()
        assert status == 503 and body["checks"]["central_store"].startswith("unreachable")
        assert body["checks"]["backlog"] == 1
        assert await node.metric("bounced_central_store_up") == 0.0
        await asyncio.sleep(3.0)  # every part meets the outage a few times (0.2 s polls)
        assert node.proc is not None and node.proc.returncode is None

        await proxy.restore()
        body = await _ready(node)
        await receiver.wait_for(1)  # the bounce applied, its webhook event sent
        assert any(GONE in str(event) for event in receiver.events())
        assert await rcpt_code(submission, GONE) == 550  # suppressed once it was applied
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=submission, timeout=30) as client:
            await client.sendmail(
                "news@shop.example",
                ["reader@dest.example"],
                b"From: news@shop.example\r\nTo: reader@dest.example\r\nSubject: after\r\n\r\nhello\r\n",
            )
        await hop.wait_for(lambda: hop.delivered_to("reader@dest.example"), timeout=30)
        assert await node.metric("bounced_central_store_up") == 1.0
        assert await node.metric("bounced_local_spool_backlog") == 0.0
    finally:
        await proxy.restore()
        assert await node.stop() == 0
        await proxy.close()
        await hop.stop()
    log = node.log.read_text()
    assert "event=central_store_unavailable" in log and "event=central_store_back" in log


async def test_a_node_started_while_the_database_is_away_takes_bounces_and_catches_up(
    tmp_path: Path, pg_dsn: str, receiver: Any
) -> None:
    proxy, dsn = await TcpProxy.before(pg_dsn)
    await proxy.cut()  # down before the node starts (a restart during a failover)
    node = _node(tmp_path, dsn, receiver)
    await node.start()
    try:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=node.port, timeout=30)
        await smtp.connect()
        _, reply = await smtp.sendmail("", ["b@bounces.example.com"], HARD)
        smtp.close()
        assert reply.startswith("2.0.0")
        status, body = await node.readyz()
        assert status == 503 and "not connected yet" in body["checks"]["central_store"]
        await proxy.restore()
        await _ready(node)
        await receiver.wait_for(1)
        assert any(GONE in str(event) for event in receiver.events())
    finally:
        await proxy.restore()
        assert await node.stop() == 0
        await proxy.close()
    log = node.log.read_text()
    assert "event=central_store_connected" in log
