"""The mass-failure guard's alert end to end: 500 identical `550 5.1.1` bounces over real
SMTP trip it once; a real webhook receiver gets exactly one signed `guard_tripped` event,
a `suppression_removed` for each suppression it moved back to the quarantine, and
/metrics counts one trip."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

from bounced.webhooks.payload import verify_signature
from tests.conftest import free_port
from tests.harness import running_daemon
from tests.http.test_metrics import scrape, value
from tests.policy.helpers import example_config, run_cli
from tests.policy.test_mass_failure_guard import _send_all, _unknown
from tests.webhooks.receiver import Receiver

SECRET = "whsec-guard-0123456789"


def _events(db: str) -> int:
    """Webhook events recorded so far (one hook: one delivery each)."""
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM webhook_events").fetchone()[0])


async def test_500_identical_bounces_fire_exactly_one_guard_tripped_webhook(tmp_path: Path) -> None:
    receiver = Receiver()
    receiver.start()
    config = example_config(
        tmp_path,
        verp={"unsigned_bounces": "suppress"},
        webhooks=[{"url": receiver.url, "secret": SECRET, "timeout": 5.0}],
        webhook_delivery={"poll_interval": 0.1, "retry_initial": 0.2, "retry_max_delay": 0.5},
        http={
            "enabled": True,
            "listen": f"127.0.0.1:{free_port()}",
            "tokens": [{"name": "ops", "token": "admin-token-0123456789", "scope": "admin"}],
        },
    )
    flood = {f"user{i}@big.example" for i in range(500)}
    try:
        async with running_daemon(config) as d:
            await _send_all(d.smtp_port, [_unknown(i) for i in range(500)])
            await d.drained(timeout=60)
            assert await d.store.suppressed_among(flood) == set()
            # every event recorded is sent: 500 hard_bounce, the early suppressions and their
            # removals, one guard_tripped
            # (the backlog counts deliveries, which the dispatcher makes from the events on
            # its next poll: wait for every event recorded, not for an empty backlog)
            async with asyncio.timeout(60):
                while len(receiver.received) < _events(config.storage.path):
                    await asyncio.sleep(0.1)
            m = await scrape(d)
            assert value(m, "bounced_guard_trips_total") == 1
            assert value(m, "bounced_guard_quarantined_total") >= 500
            got = list(receiver.received)

            # an admin confirms them with the CLI: its suppressions fire webhooks too, sent by
            # the running daemon
            toml = tmp_path / "cli.toml"
            toml.write_text(
                f'[storage]\npath = "{config.storage.path}"\n'
                f'[[webhooks]]\nurl = "{receiver.url}"\nsecret = "{SECRET}"\n',
                encoding="utf-8",
            )
            confirmed = run_cli(toml, "quarantine", "confirm", "--domain", "big.example")
            assert confirmed.returncode == 0, confirmed.stderr
            later = await receiver.wait_for(len(got) + 500)
            assert len(later) == len(got) + 500
            after = [r.event for r in later[len(got) :]]
            assert {e["type"] for e in after} == {"suppression_added"}
            assert {e["recipient"] for e in after} == flood and all(e["kind"] == "hard" for e in after)
        events = [r.event for r in got]
        tripped = [(r, e) for r, e in zip(got, events, strict=True) if e["type"] == "guard_tripped"]
        assert len(tripped) == 1
        raw, body = tripped[0]
        assert verify_signature(SECRET, raw.headers["bounced-signature"], raw.body, int(time.time()))
        guard = body["guard"]
        assert (guard["scope"], guard["key"], guard["window"]) == ("domain", "big.example", 600.0)
        assert guard["count"] >= 200 and guard["text_key"] == body["diagnostic"]
        added = {e["recipient"] for e in events if e["type"] == "suppression_added"}
        removed = [e["recipient"] for e in events if e["type"] == "suppression_removed"]
        assert guard["held"] == len(removed) == len(set(removed)) and set(removed) == added
        assert all(e["kind"] == "hard" for e in events if e["type"] == "suppression_removed")
        assert sum(e["type"] == "hard_bounce" for e in events) == 500
    finally:
        receiver.stop()
