"""kill -9 of `bounced serve` during a burst of hard bounces: after a restart every webhook
event reaches the receiver at least once, and exactly once after de-duplication by id."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import aiosmtplib
import pytest

from bounced.config import StorageConfig
from bounced.store import open_store
from tests.daemon.test_serve_process import RCPT, ServeProcess, hard_bounce_for
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.slow  # real daemon processes (CI runs them; `-m "not slow"` skips)

SECRET = "whsec-0123456789abcdef"
TOTAL = int(os.environ.get("BOUNCED_WEBHOOK_CRASH_BOUNCES", "500"))  # 5000 for the size
PATIENCE = max(180.0, TOTAL * 0.25)  # seconds; a loaded 2-CPU host delivers ~50 events/s


@pytest.fixture
async def serve(tmp_path: Path, receiver: Receiver) -> AsyncIterator[ServeProcess]:
    process = ServeProcess(tmp_path)
    process.write_config(
        f'[[webhooks]]\nurl = "{receiver.url}"\nsecret = "{SECRET}"\n'
        "[webhook_delivery]\npoll_interval = 0.1\nretry_initial = 0.2\nretry_max_delay = 1.0\n"
        # The burst is one text for one domain: the mass-failure guard would quarantine it
        # (no suppression_added); this test is about delivery, not that policy.
        "[policy.guard]\nenabled = false\n"
    )
    yield process
    await process.close()


async def send_burst(port: int, total: int, connections: int = 10) -> None:
    async def one_connection(first: int) -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, timeout=60)
        async with client:
            for i in range(first, total, connections):
                await client.sendmail("", RCPT, hard_bounce_for(i))

    await asyncio.gather(*(one_connection(c) for c in range(connections)))


async def test_sigkill_mid_delivery_loses_no_webhook(serve: ServeProcess, receiver: Receiver) -> None:
    await serve.start()
    await asyncio.wait_for(send_burst(serve.port, TOTAL), PATIENCE)
    await receiver.wait_for(TOTAL // 10, timeout=PATIENCE)  # delivering: the kill lands mid-stream
    assert await serve.signal(signal.SIGKILL) == -signal.SIGKILL
    before_restart = len(receiver.received)

    await serve.start()
    expected = 2 * TOTAL  # hard_bounce and suppression_added per address
    async with asyncio.timeout(PATIENCE):
        while len({r.event["id"] for r in receiver.received}) < expected:
            await asyncio.sleep(0.1)
    store = await open_store(StorageConfig(path=str(serve.db)))
    try:
        pending = await store.webhook_backlog()
        recorded = {d.event.id for d in await store.list_webhook_deliveries(limit=10 * expected)}
    finally:
        await store.close()
    assert await serve.signal(signal.SIGTERM) == 0
    ids = [r.event["id"] for r in receiver.received]
    assert set(ids) == recorded and len(recorded) == expected and pending.pending == 0
    print(
        f"received before the kill: {before_restart}; POSTs {len(ids)}, duplicates {len(ids) - len(set(ids))}"
    )
    first_seen: dict[str, list[str]] = {}
    seen: set[int] = set()
    for r in receiver.received:
        event = r.event
        if event["id"] not in seen:
            seen.add(event["id"])
            first_seen.setdefault(event["recipient"], []).append(event["type"])
    assert len(first_seen) == TOTAL
    assert all(types == ["hard_bounce", "suppression_added"] for types in first_seen.values())
