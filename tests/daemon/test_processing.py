"""[processing]: batches applied through worker processes by the running daemon."""

from __future__ import annotations

import asyncio
import multiprocessing
from pathlib import Path

import pytest

from bounced.clock import FakeClock
from bounced.config import Config, ProcessingConfig
from bounced.config.loader import build
from bounced.errors import ConfigError
from bounced.model import IntakeState
from bounced.store import open_store
from tests.apply.bounce_messages import dsn
from tests.harness import make_config, running_daemon, send_mail
from tests.store_helpers import intake_counts

RCPT = ["b@bounces.example.com"]
DOMAINS = {"domains": ["bounces.example.com"]}


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"workers": -1}, "processing.workers"),
        ({"workers": 1000}, "processing.workers"),
        ({"batch_size": 0}, "processing.batch_size"),
        ({"pool_min_batch": 0}, "processing.pool_min_batch"),
        ({"batch_delay": 60.0}, "processing.batch_delay"),
        ({"burst_hold": -1.0}, "processing.burst_hold"),
        ({"burst_hold": 3600.0}, "processing.burst_hold"),
        ({"workers": "two"}, "processing.workers"),
    ],
)
def test_bad_processing_settings_name_the_key(section: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build(Config, {"processing": section})
    assert caught.value.key == key


def test_defaults() -> None:
    assert Config().processing == ProcessingConfig(
        workers=2, pool_min_batch=16, batch_size=200, batch_delay=0.05, burst_hold=2.0
    )


async def test_a_backlog_is_applied_through_the_worker_pool_which_stops_with_the_daemon(
    tmp_path: Path,
) -> None:
    config = make_config(
        tmp_path,
        smtp=DOMAINS,
        verp={"unsigned_bounces": "suppress"},
        processing={"workers": 1, "pool_min_batch": 4, "batch_size": 10},
    )
    store = await open_store(config.storage)
    for i in range(25):  # pending at start: windows of 10, 10 and 5 go to the worker
        raw = dsn(f"user{i}@example.org", "5.1.1", "550 5.1.1 User unknown", bounce_id=f"<{i}@mx>")
        await store.spool(raw, "", RCPT, "192.0.2.1:25", FakeClock().now())
    await store.close()
    async with running_daemon(config) as d:
        await d.drained(timeout=30)
        # and a message over SMTP afterwards (a window of one: inline)
        await send_mail(d.smtp_port, "", RCPT, dsn("late@example.org", "5.1.1", "550 5.1.1 User unknown"))
        await d.drained()
        counts = await intake_counts(d.store)
        assert counts[IntakeState.APPLIED] == 26 and counts[IntakeState.PENDING] == 0
        for address in ("user0@example.org", "user24@example.org", "late@example.org"):
            assert await d.store.get_suppression(address) is not None
        analyser = d.daemon.processor.analyser
        assert analyser.pool_batches == 3 and analyser.broken_pools == 0
        assert multiprocessing.active_children()
    await asyncio.to_thread(_no_children_left)


def _no_children_left() -> None:
    for child in multiprocessing.active_children():
        child.join(10)
    assert multiprocessing.active_children() == []


async def _spool_one(d: object, i: int) -> None:
    from tests.harness import RunningDaemon

    assert isinstance(d, RunningDaemon)
    raw = dsn(f"burst{i}@example.org", "5.1.1", "550 5.1.1 User unknown", bounce_id=f"<b{i}@mx>")
    await d.store.spool(raw, "", RCPT, "192.0.2.1:25", d.daemon.clock.now())
    d.daemon.processor.wake()  # what the listener does after each spool


async def test_a_burst_is_accepted_first_and_applied_once_it_pauses(tmp_path: Path) -> None:
    config = make_config(
        tmp_path, smtp=DOMAINS, processing={"workers": 0, "batch_delay": 0.5, "burst_hold": 10.0}
    )
    async with running_daemon(config) as d:
        # The first bounce of the burst is applied at once. Its pass also takes what arrives
        # while it runs: on a loaded machine (a slow fsync, other xdist workers) that was up
        # to 6 more, so the rest of the burst follows once the first is applied.
        await _spool_one(d, 0)
        async with asyncio.timeout(10):
            while d.daemon.processor.applied < 1:
                await asyncio.sleep(0.005)
        # Arrivals 10 ms apart, well inside batch_delay, for longer than batch_delay: the
        # wait after the first pass ends and the burst hold keeps applying off.
        for i in range(1, 80):
            await _spool_one(d, i)
            await asyncio.sleep(0.01)
        counts = await intake_counts(d.store)
        # Then applying waits.
        assert counts[IntakeState.PENDING] >= 78
        await d.drained(timeout=10)  # the burst paused: everything applied in one go
        counts = await intake_counts(d.store)
        assert counts[IntakeState.APPLIED] == 80


async def test_a_long_flood_is_applied_at_most_burst_hold_behind(tmp_path: Path) -> None:
    config = make_config(
        tmp_path, smtp=DOMAINS, processing={"workers": 0, "batch_delay": 0.3, "burst_hold": 0.4}
    )
    async with running_daemon(config) as d:
        loop = asyncio.get_running_loop()
        start, i = loop.time(), 0
        applied_during_flood = 0
        # Never a pause of batch_delay; from 1.2 s (three holds) on, until more than the first
        # is applied, for at most 4 s: a process starved of the CPU (a loaded machine, other
        # xdist workers) may apply the held ones later than 1.5 s.
        while loop.time() - start < 4.0 and applied_during_flood <= 1:
            await _spool_one(d, i)
            i += 1
            await asyncio.sleep(0.01)
            if loop.time() - start > 1.2:
                applied_during_flood = (await intake_counts(d.store))[IntakeState.APPLIED]
        assert applied_during_flood > 1  # not just the first one: the hold ran out mid-flood
        await d.drained(timeout=5)
        assert (await intake_counts(d.store))[IntakeState.APPLIED] == i


async def test_burst_hold_zero_applies_alongside(tmp_path: Path) -> None:
    config = make_config(
        tmp_path, smtp=DOMAINS, processing={"workers": 0, "batch_delay": 0.0, "burst_hold": 0.0}
    )
    async with running_daemon(config) as d:
        for i in range(20):
            await _spool_one(d, i)
            await d.drained(timeout=5)  # applied as it came: no hold while more arrive
        assert (await intake_counts(d.store))[IntakeState.APPLIED] == 20
