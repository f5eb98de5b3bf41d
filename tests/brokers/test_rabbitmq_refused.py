"""A broker that refuses (wrong password, a vhost this user may not use, an exchange declared
otherwise): one clear log line per attempt naming the broker and the cause, retries with the
outbox's backoff, the password never in a log line or a delivery's error, and nothing lost:
once the config is right, every event arrives."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aio_pika
import pytest

from bounced.config import Config
from bounced.logfmt import LogfmtFormatter
from bounced.model import WebhookState
from bounced.webhooks import service
from tests.brokers.outbox import broker_config, deduplicated, outbox_ids, send_bounce, until_all_delivered
from tests.brokers.rabbit import RabbitQueue, rabbit_url
from tests.harness import running_daemon

PASSWORD = f"wrong-{uuid.uuid4().hex}"


@asynccontextmanager
async def direct_exchange(name: str) -> AsyncIterator[str]:
    """An exchange of the test's, declared `direct`: bounced's topic declaration is refused."""
    connection = await aio_pika.connect(rabbit_url(), timeout=5)
    try:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(name, aio_pika.ExchangeType.DIRECT, durable=True)
        yield name
        await exchange.delete()
    finally:
        await connection.close()


@pytest.mark.parametrize(
    ("refusal", "cause"),
    [
        ("password", "ACCESS_REFUSED"),
        ("vhost", "is the vhost there, and may this user use it?"),
        ("exchange", "PRECONDITION_FAILED"),
    ],
)
async def test_a_refusing_broker_is_named_retried_and_loses_nothing(
    tmp_path: Path,
    rabbit: RabbitQueue,
    refusal: str,
    cause: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with contextlib.AsyncExitStack() as stack:
        if refusal == "password":
            broker = {"url": rabbit_url(password=PASSWORD)}
        elif refusal == "vhost":
            broker = {"url": rabbit_url(vhost=f"bounced-missing-{uuid.uuid4().hex}")}
        else:
            broker = {
                "exchange": await stack.enter_async_context(direct_exchange(f"{rabbit.exchange}-direct"))
            }
        await refused_then_right(tmp_path, rabbit, broker_config(tmp_path, rabbit, broker), cause, caplog)


async def refused_then_right(
    tmp_path: Path, rabbit: RabbitQueue, bad: Config, cause: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_daemon(bad) as d:
        for n in range(3):
            await send_bounce(d, n)
        await d.drained()
        expected = await outbox_ids(d)
        assert len(expected) == 6
        assert d.daemon.webhooks is not None
        async with asyncio.timeout(30):  # three passes over the 3 heads (hard_bounce), each refused
            while d.daemon.webhooks.stats.failed_attempts < 3 * 3:
                await asyncio.sleep(0.05)
        rows = await service.list_deliveries(d.store, "rabbit")
        assert {x.state for x in rows} == {WebhookState.PENDING} and len(rows) == len(expected)
        tried = [x for x in rows if x.attempts > 0]  # a suppression_added waits for its hard_bounce
        assert {x.event.type for x in tried} == {"hard_bounce"} and len(tried) == 3
        assert all(x.attempts >= 2 and cause in (x.last_error or "") for x in tried)
        assert d.daemon.webhooks.stats.dead_lettered == 0
    assert rabbit.received == []

    lines = [r for r in caplog.records if r.name == "bounced.brokers"]
    refused = [r for r in lines if r.kv["event"] == "broker_unavailable"]  # type: ignore[attr-defined]
    assert len(refused) >= 2  # one per attempt, paced by the backoff
    fields = refused[0].kv  # type: ignore[attr-defined]
    assert fields["broker"] == "rabbit" and cause in fields["error"]
    assert fields["exchange"] == bad.brokers[0].exchange and fields["url"].startswith("amqp://guest:")
    formatter = LogfmtFormatter()
    assert not any(PASSWORD in formatter.format(r) for r in caplog.records)  # nor in third-party lines
    assert not any(x.last_error and PASSWORD in x.last_error for x in rows)

    caplog.clear()
    async with running_daemon(broker_config(tmp_path, rabbit)) as d:  # set right, same database
        await rabbit.wait_for_ids(expected)
        await until_all_delivered(d, "rabbit")
    assert set(deduplicated(rabbit.received)) == expected
    assert not [r for r in caplog.records if r.name == "bounced.brokers" and r.levelno >= logging.WARNING]
