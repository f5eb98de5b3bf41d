"""The real broker restarted mid-stream (issue 14: "each exactly once after de-duplication by
event id, across a broker restart"). The daemon publishes straight to 127.0.0.1:5672 while
bounces keep arriving over SMTP; the test restarts the RabbitMQ application
(`rabbitmqctl stop_app` / `start_app`, never the Erlang node, users or config) and always starts
it again. The test's queue is durable, so what was published before the restart survives it;
its consumer reconnects. It waits until no other test uses the broker, and they wait for it
(tests/brokers/rabbit.py, BROKER_LOCK). Needs root and rabbitmqctl; skipped otherwise."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bounced.model import WebhookState
from bounced.webhooks import service
from tests.brokers.outbox import broker_config, deduplicated, outbox_ids, send_bounce, until_all_delivered
from tests.brokers.rabbit import RABBIT_HOST, RABBIT_PORT, RabbitQueue, rabbit_queue
from tests.harness import RunningDaemon, running_daemon

pytestmark = pytest.mark.slow  # restarts the real RabbitMQ application (CI runs it)

BOUNCES = 40
DOWN = 2.0  # seconds the application stays stopped


async def rabbitmqctl(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        "rabbitmqctl", "-q", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await process.communicate()
    return process.returncode or 0, out.decode(errors="replace")


async def until_port_answers(timeout: float = 30.0) -> None:
    """Until RabbitMQ accepts AMQP connections again (the listener opens last in start_app)."""
    async with asyncio.timeout(timeout):
        while True:
            try:
                _, writer = await asyncio.open_connection(RABBIT_HOST, RABBIT_PORT)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            writer.close()
            return


@pytest.fixture
async def controllable() -> None:
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl is not installed: cannot restart the local RabbitMQ")
    if os.geteuid() != 0:
        pytest.skip("restarting the local RabbitMQ needs root (rabbitmqctl stop_app/start_app)")
    code, out = await rabbitmqctl("status")
    if code != 0:
        pytest.skip(f"rabbitmqctl cannot control the local RabbitMQ node: {out.strip()[:200]}")


@pytest.fixture
async def durable_rabbit(controllable: None) -> AsyncIterator[RabbitQueue]:
    # durable exchange and queue, not auto-delete; no other test on the broker meanwhile
    async with rabbit_queue(robust=True, restarts=True) as queue:
        yield queue


async def stream(d: RunningDaemon, count: int) -> None:
    """Bounces one after another; one refused while the broker restarts would be a failure."""
    for n in range(count):
        await send_bounce(d, n)
        await asyncio.sleep(0.05)


async def test_events_arrive_once_each_across_a_broker_restart(
    tmp_path: Path, durable_rabbit: RabbitQueue, caplog: pytest.LogCaptureFixture
) -> None:
    rabbit = durable_rabbit
    async with running_daemon(broker_config(tmp_path, rabbit)) as d:
        sender = asyncio.create_task(stream(d, BOUNCES))
        async with asyncio.timeout(30):  # mid-stream: some events are through
            while len(rabbit.received) < 10:
                await asyncio.sleep(0.01)
        try:
            code, out = await rabbitmqctl("stop_app")
            assert code == 0, out
            before_restart = rabbit.ids()
            await asyncio.sleep(DOWN)  # bounces keep arriving; the outbox holds their events
        finally:
            code, out = await rabbitmqctl("start_app")
            await until_port_answers()
        assert code == 0, out
        await sender
        await d.drained()
        expected = await outbox_ids(d)
        assert len(expected) == 2 * BOUNCES  # hard_bounce and suppression_added each
        await rabbit.wait_for_ids(expected)
        await until_all_delivered(d, "rabbit")
        stats = d.daemon.webhooks.stats if d.daemon.webhooks else None
        assert stats is not None and stats.dead_lettered == 0
        rows = await service.list_deliveries(d.store, "rabbit")
        assert {x.state for x in rows} == {WebhookState.DELIVERED}

    assert 10 <= len(before_restart) < len(expected)  # the restart came mid-stream
    kept = deduplicated(rabbit.received)
    assert set(kept) == expected  # none lost; each once after de-duplication
    events = [r.kv["event"] for r in caplog.records if r.name == "bounced.brokers"]  # type: ignore[attr-defined]
    assert events[0] == "broker_connected"
    assert "broker_disconnected" in events  # it noticed the restart
    assert events.count("broker_connected") >= 2 and events[-1] == "broker_connected"  # and came back
