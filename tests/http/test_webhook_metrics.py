"""The webhook dispatcher's metrics on /metrics move with their causes: POSTs answered 2xx
by a real receiver, failed POSTs while it answers 503, dead letters once retries run out,
and the lag of the oldest event not yet sent."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from tests.apply.bounce_messages import dsn
from tests.harness import RunningDaemon, running_daemon, send_mail
from tests.http.conftest import client, http_config
from tests.http.test_metrics import scrape, value
from tests.webhooks.receiver import Receiver

DELIVERED = "bounced_webhook_deliveries_total"
FAILED = "bounced_webhook_failed_attempts_total"
DEAD = "bounced_webhook_dead_letters_total"
LAG = "bounced_webhook_lag_seconds"


async def _bounce(d: RunningDaemon, n: int) -> None:
    rcpt = f"gone{n}@dest.example"
    message = dsn(rcpt, "5.1.1", f"550 5.1.1 <{rcpt}>: user unknown", bounce_id=f"<b{n}@mx.sender.test>")
    await send_mail(d.smtp_port, "", ["b@bounces.sender.test"], message)
    await d.drained()


Scrape = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def _until(d: RunningDaemon, ok: Callable[[Scrape], bool], timeout: float = 30.0) -> Scrape:
    """Scrapes until `ok` holds (a poll, no fixed sleep); returns that scrape."""
    async with asyncio.timeout(timeout):
        while True:
            m = await scrape(d)
            if ok(m):
                return m
            await asyncio.sleep(0.05)


async def test_webhook_metrics_move_with_their_causes(tmp_path: Path) -> None:
    receiver = Receiver()
    receiver.start()
    config = http_config(
        tmp_path,
        webhooks=[{"url": receiver.url, "secret": "whsec-0123456789abcdef", "timeout": 5.0}],
        webhook_delivery={
            "poll_interval": 0.1,
            "retry_initial": 0.2,
            "retry_max_delay": 0.4,
            "retry_for": 3.0,
        },
    )
    try:
        async with running_daemon(config) as d:
            m = await scrape(d)
            for name in (DELIVERED, FAILED, DEAD, LAG):  # there from the start, at 0
                assert (name, ()) in m and m[name, ()] == 0.0

            await _bounce(d, 1)  # hard_bounce + suppression_added, both delivered
            await receiver.wait_for(2)
            m = await _until(d, lambda m: value(m, DELIVERED) >= 2)
            assert value(m, DELIVERED) == 2 and value(m, FAILED) == 0 and value(m, DEAD) == 0

            receiver.status = 503  # the platform is down: attempts fail, events wait, then die
            await _bounce(d, 2)
            m = await _until(d, lambda m: value(m, FAILED) >= 1 and value(m, LAG) > 0)
            assert value(m, DEAD) == 0 and value(m, DELIVERED) == 2
            m = await _until(d, lambda m: value(m, DEAD) >= 2)
            assert value(m, DEAD) == 2 and value(m, DELIVERED) == 2 and value(m, FAILED) >= 2
            m = await _until(d, lambda m: value(m, LAG) == 0)  # nothing pending any more

            receiver.status = 200  # back: a replay delivers the dead letters
            today = d.daemon.clock.now().date().isoformat()
            async with client(d) as c:
                assert (await c.post("/api/v1/hooks/replay", json={"from": today})).status_code == 200
            m = await _until(d, lambda m: value(m, DELIVERED) >= 6)  # 4 replayed, the 2 dead included
            assert value(m, DEAD) == 2
    finally:
        receiver.stop()
