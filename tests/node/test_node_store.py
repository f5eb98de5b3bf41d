"""The node store: intake spooled locally, applied into the central store exactly once.

Every test runs with the central store as a second SQLite file and as PostgreSQL (skipped,
saying so, when no server answers); the outage tests need PostgreSQL behind a TCP proxy.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bounced.clock import FakeClock
from bounced.config import Config, StorageConfig
from bounced.errors import StoreUnavailable
from bounced.model import IntakeState
from bounced.processor import Processor, ProcessorSettings
from bounced.store.base import Store
from bounced.store.node import NodeStore
from bounced.store.sqlite import SQLiteStore
from tests.apply.bounce_messages import dsn
from tests.harness import make_config
from tests.store_helpers import intake_counts, is_suppressed
from tests.tcp_proxy import TcpProxy

RECEIVED = FakeClock().now()
ENVELOPE = ("", ["b@bounces.example.com"], "127.0.0.1")


def hard(address: str, bounce_id: str) -> bytes:
    return dsn(address, "5.1.1", "550 5.1.1 User unknown", bounce_id=bounce_id)


@pytest.fixture
def central(store: Store) -> Store:
    """The central store: the shared `store` fixture (a second SQLite file, or PostgreSQL)."""
    return store


async def node_store(tmp_path: Path, central: Any, name: str) -> NodeStore:
    local = await SQLiteStore.open(StorageConfig(path=str(tmp_path / f"{name}.sqlite3")))
    return NodeStore(local, central, name)


def config(tmp_path: Path) -> Config:
    return make_config(tmp_path, verp={"unsigned_bounces": "suppress"}, policy={"guard": {"enabled": False}})


def processor(store: NodeStore, tmp_path: Path) -> Processor:
    from bounced.apply.workers import Analyser

    settings = ProcessorSettings(retry_delay=0.01)
    return Processor(store, config(tmp_path), FakeClock(RECEIVED), settings=settings, analyser=Analyser(0))


async def spool(store: NodeStore, raw: bytes) -> int:
    return await store.spool(raw, ENVELOPE[0], ENVELOPE[1], ENVELOPE[2], RECEIVED)


async def test_spooled_locally_applied_centrally_once(tmp_path: Path, central: Any) -> None:
    node = await node_store(tmp_path, central, "mx1")
    try:
        ids = [await spool(node, hard(f"user{i}@example.org", f"<b{i}@mx>")) for i in range(3)]
        assert (await intake_counts(central))[IntakeState.PENDING] == 0  # nothing central yet
        await processor(node, tmp_path).run_once()
        assert (await intake_counts(node.local))[IntakeState.APPLIED] == 3
        assert (await intake_counts(central))[IntakeState.APPLIED] == 3
        for i, local_id in enumerate(ids):
            events = await central.events_for(f"user{i}@example.org")
            assert len(events) == 1
            central_intake = await central.get_intake(events[0].intake_id)
            assert central_intake is not None and central_intake.raw == (await node.get_intake(local_id)).raw  # type: ignore[union-attr]
            assert await is_suppressed(central, f"user{i}@example.org")
        assert (await node.metrics_snapshot(RECEIVED)).backlog == 0
    finally:
        await node.local.close()


async def test_a_crash_between_the_central_commit_and_the_local_mark_doubles_nothing(
    tmp_path: Path, central: Any
) -> None:
    node = await node_store(tmp_path, central, "mx1")
    try:
        local_id = await spool(node, hard("crash@example.org", "<crash@mx>"))
        await processor(node, tmp_path).run_once()
        # What a SIGKILL after the central commit leaves: the local row still pending.
        await node.local.mark_intake(local_id, IntakeState.PENDING)
        assert (await intake_counts(node.local))[IntakeState.PENDING] == 1
    finally:
        await node.local.close()
    restarted = await node_store(tmp_path, central, "mx1")  # the node's next start
    try:
        await processor(restarted, tmp_path).run_once()
        assert (await intake_counts(restarted.local))[IntakeState.APPLIED] == 1
        assert len(await central.events_for("crash@example.org")) == 1
        profile = await central.get_profile("crash@example.org")
        assert profile is not None and profile.bounce_count == 1
        assert (await intake_counts(central))[IntakeState.APPLIED] == 1  # adopted once
    finally:
        await restarted.local.close()


async def test_two_nodes_with_the_same_local_ids_stay_apart(tmp_path: Path, central: Any) -> None:
    one = await node_store(tmp_path, central, "mx1")
    two = await node_store(tmp_path, central, "mx2")
    try:
        assert await spool(one, hard("one@example.org", "<one@mx>")) == await spool(
            two, hard("two@example.org", "<two@mx>")
        )  # both local id 1
        await processor(one, tmp_path).run_once()
        await processor(two, tmp_path).run_once()
        [event_one] = await central.events_for("one@example.org")
        [event_two] = await central.events_for("two@example.org")
        assert event_one.intake_id != event_two.intake_id
        assert b"one@example.org" in (await central.get_intake(event_one.intake_id)).raw
        assert b"two@example.org" in (await central.get_intake(event_two.intake_id)).raw
    finally:
        await one.local.close()
        await two.local.close()


async def test_one_bounce_received_by_both_nodes_counts_once(tmp_path: Path, central: Any) -> None:
    """An MTA that got no answer from one MX sends the bounce again to the other."""
    one = await node_store(tmp_path, central, "mx1")
    two = await node_store(tmp_path, central, "mx2")
    raw = hard("twice@example.org", "<twice@mx>")
    try:
        await spool(one, raw)
        await spool(two, raw)
        await processor(one, tmp_path).run_once()
        await processor(two, tmp_path).run_once()
        assert len(await central.events_for("twice@example.org")) == 1
        assert (await intake_counts(one.local))[IntakeState.APPLIED] == 1
        assert (await intake_counts(two.local))[IntakeState.APPLIED] == 1
        profile = await central.get_profile("twice@example.org")
        assert profile is not None and profile.bounce_count == 1
    finally:
        await one.local.close()
        await two.local.close()


async def test_not_mail_is_unparseable_on_both_sides(tmp_path: Path, central: Any) -> None:
    node = await node_store(tmp_path, central, "mx1")
    try:
        await spool(node, b"\x00\x01 not a message at all")
        await processor(node, tmp_path).run_once()
        assert (await intake_counts(node.local))[IntakeState.UNPARSEABLE] == 1
        assert (await intake_counts(central))[IntakeState.UNPARSEABLE] == 1
        [row] = await node.list_intake(IntakeState.UNPARSEABLE)  # `bounced intake list`: the spool
        assert row.message_type is None and row.error
    finally:
        await node.local.close()


async def test_a_quarantined_message_retried_is_applied_centrally(tmp_path: Path, central: Any) -> None:
    from bounced.apply.retry import retry_intake

    node = await node_store(tmp_path, central, "mx1")
    try:
        local_id = await spool(node, hard("retry@example.org", "<retry@mx>"))
        await node.local.mark_intake(local_id, IntakeState.FAILED, error="poison, by hand")
        message = await node.get_intake(local_id)
        assert message is not None
        [outcome] = await retry_intake(node, [message], config(tmp_path), FakeClock(RECEIVED))
        assert outcome.state is IntakeState.APPLIED and outcome.new_events == 1
        assert (await intake_counts(node.local))[IntakeState.APPLIED] == 1
        assert len(await central.events_for("retry@example.org")) == 1
    finally:
        await node.local.close()


# --- the central store away: PostgreSQL behind a proxy the test cuts -------------------


@pytest.fixture
async def proxied(pg_config: StorageConfig, tmp_path: Path) -> AsyncIterator[tuple[NodeStore, TcpProxy]]:
    from bounced.store.postgres import PostgresStore

    proxy, dsn = await TcpProxy.before(pg_config.dsn)
    central = await PostgresStore.open(replace(pg_config, dsn=dsn))
    node = await node_store(tmp_path, central, "mx1")
    try:
        yield node, proxy
    finally:
        await proxy.restore()
        await node.close()
        await proxy.close()


async def test_an_unreachable_central_store_counts_no_attempt_and_drains_after(
    tmp_path: Path, proxied: tuple[NodeStore, TcpProxy]
) -> None:
    node, proxy = proxied
    await proxy.cut()
    for i in range(3):  # intake does not need the central store
        await spool(node, hard(f"away{i}@example.org", f"<away{i}@mx>"))
    with pytest.raises(StoreUnavailable):
        await processor(node, tmp_path).run_once()
    status = await node.central_status(timeout=2.0)
    assert not status.up and status.error and status.backlog == 3
    assert {m.attempts for m in await node.local.pending_intake()} == {0}
    await proxy.restore()
    await processor(node, tmp_path).run_once()
    status = await node.central_status(timeout=2.0)
    assert status.up and status.backlog == 0
    assert all([await is_suppressed(node.central, f"away{i}@example.org") for i in range(3)])


async def test_the_running_processor_backs_off_and_drains_when_the_server_returns(
    tmp_path: Path, proxied: tuple[NodeStore, TcpProxy]
) -> None:
    node, proxy = proxied
    settings = ProcessorSettings(retry_delay=0.05, unavailable_retry_max=0.2)
    running = Processor(node, config(tmp_path), FakeClock(RECEIVED), settings=settings)
    await running.start()
    try:
        await proxy.cut()
        for i in range(5):
            await spool(node, hard(f"later{i}@example.org", f"<later{i}@mx>"))
            running.wake()
        with pytest.raises(TimeoutError):
            await running.drained(timeout=1.0)
        assert (await intake_counts(node.local))[IntakeState.PENDING] == 5
        await proxy.restore()
        await running.drained(timeout=20.0)
    finally:
        await running.stop()
    assert (await intake_counts(node.local))[IntakeState.APPLIED] == 5
    assert {m.attempts for m in await node.local.pending_intake()} == set()
    for i in range(5):
        assert len(await node.central.events_for(f"later{i}@example.org")) == 1
