"""A broker outage mid-stream, without touching the shared RabbitMQ: the daemon reaches it
through a TCP proxy the test cuts (every connection reset, new ones refused) for a few
seconds while bounces keep arriving over SMTP. Nothing is lost: every event arrives, each
exactly once after de-duplication by message_id, and /metrics shows the backlog meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bounced.model import WebhookState
from bounced.webhooks import service
from tests.brokers.outbox import DELIVERY, deduplicated, outbox_ids, send_bounce, until_all_delivered
from tests.brokers.rabbit import RabbitQueue, TcpProxy
from tests.harness import RunningDaemon, running_daemon
from tests.http.conftest import http_config
from tests.http.test_metrics import scrape, value

BACKLOG = "bounced_webhook_backlog"
LAG = "bounced_webhook_lag_seconds"
OUTAGE = 3.0  # seconds the proxy stays cut
BOUNCES = 60


@pytest.fixture
async def proxy() -> AsyncIterator[TcpProxy]:
    p = TcpProxy()
    await p.restore()
    yield p
    await p.cut()


async def stream(d: RunningDaemon, count: int) -> None:
    """Bounces one after another (a steady trickle that spans the outage)."""
    for n in range(count):
        await send_bounce(d, n)
        await asyncio.sleep(0.05)


async def test_events_survive_a_cut_connection_and_the_backlog_shows_it(
    tmp_path: Path, rabbit: RabbitQueue, proxy: TcpProxy, caplog: pytest.LogCaptureFixture
) -> None:
    broker = {"name": "rabbit", "url": proxy.url, "exchange": rabbit.exchange, "timeout": 2.0}
    config = http_config(tmp_path, brokers=[broker], webhook_delivery=DELIVERY)
    async with running_daemon(config) as d:
        sender = asyncio.create_task(stream(d, BOUNCES))
        async with asyncio.timeout(30):  # mid-stream: some events are through
            while len(rabbit.received) < 10:
                await asyncio.sleep(0.01)
        await proxy.cut()
        cut_at = asyncio.get_running_loop().time()
        seen_during = len(rabbit.ids())
        peak_backlog, peak_lag = 0.0, 0.0
        # OUTAGE seconds, longer (at most 30) until the backlog shows: on a loaded machine the
        # stream is slower (6 waiting after 3 s under other xdist workers and other work).
        while (elapsed := asyncio.get_running_loop().time() - cut_at) < OUTAGE or (
            (peak_backlog < 10 or peak_lag < 1.0) and elapsed < 30
        ):
            m = await scrape(d)
            peak_backlog = max(peak_backlog, value(m, BACKLOG))
            peak_lag = max(peak_lag, value(m, LAG))
            await asyncio.sleep(0.1)
        arrived_while_cut = len(rabbit.ids()) - seen_during
        await proxy.restore()
        await sender
        await d.drained()
        expected = await outbox_ids(d)
        assert len(expected) == 2 * BOUNCES  # hard_bounce and suppression_added each
        await rabbit.wait_for_ids(expected)
        await until_all_delivered(d, "rabbit")
        m = await scrape(d)  # caught up: nothing waits any more
        assert value(m, BACKLOG) == 0 and value(m, LAG) == 0
        stats = d.daemon.webhooks.stats if d.daemon.webhooks else None
        assert stats is not None and stats.dead_lettered == 0 and stats.failed_attempts > 0
        rows = await service.list_deliveries(d.store, "rabbit")
        assert {x.state for x in rows} == {WebhookState.DELIVERED}
        assert any(x.attempts > 1 for x in rows)  # some were retried across the cut

    assert arrived_while_cut <= 16  # at most the confirms in flight when it was cut
    assert peak_backlog >= 10 and peak_lag >= 1.0  # the lag grew while the broker was away
    kept = deduplicated(rabbit.received)
    assert set(kept) == expected  # none lost; each once after de-duplication
    assert proxy.accepted >= 2  # it reconnected by itself
    events = [r.kv["event"] for r in caplog.records if r.name == "bounced.brokers"]  # type: ignore[attr-defined]
    assert events[0] == "broker_connected"
    assert {"broker_disconnected", "broker_unavailable"} <= set(events)  # it noticed, and kept trying
    assert events[-1] == "broker_connected"  # back after the cut
