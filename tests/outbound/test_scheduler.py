"""The APScheduler alarm: a resend goes out at its due time without waiting for a poll."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.harness import running_daemon, send_mail
from tests.submission.nexthop import NextHop
from tests.submission.test_sending_flow import outbound, sending_config


async def test_due_alarm_fires_between_polls(tmp_path: Path) -> None:
    hop = await NextHop().start()
    try:
        rcpt = "slow@dest.example"
        hop.script(rcpt, "rcpt", "421 4.7.0 <slow@dest.example>: try again later")
        config = sending_config(
            tmp_path, hop, resend={"poll_interval": 60.0, "default": {"delays": [0.5], "attempts": 2}}
        )
        async with running_daemon(config) as d:
            loop = asyncio.get_running_loop()
            await send_mail(d.submission_port, "p@shop.example", [rcpt], outbound(rcpt))
            await hop.wait_for(lambda: hop.delivered_to(rcpt), timeout=5)
            refused_at = next(a[3] for a in hop.attempts if a[0] == rcpt)
            delivered_at = hop.delivered_to(rcpt)[0].at
            assert 0.45 <= delivered_at - refused_at < 3.0
            assert loop.time() - refused_at < 5.0  # well before the 60 s poll
            scheduler = d.daemon.sending_side.scheduler
            assert scheduler.runs >= 2
    finally:
        await hop.stop()
