"""Several nodes on one PostgreSQL database: two `PostgresStore`s (two pools, as two `bounced
serve` processes would have) on the real local server, working the same rows at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from bounced.clock import SystemClock
from bounced.config.storage import StorageConfig
from bounced.config.webhooks import WebhookConfig, WebhookDeliveryConfig
from bounced.model import BounceEvent, BounceKind, DeliveryState, Reason
from bounced.store.postgres import PostgresStore
from bounced.webhooks.dispatcher import WebhookDispatcher
from bounced.webhooks.poster import Poster
from bounced.webhooks.sink import HttpSink
from tests.events import keyed
from tests.rawsql import count, rows, scalar
from tests.store.test_store_guard import NOW, TEXT, _hard
from tests.store_helpers import finish_attempt, guard_trip_count, record_events, refusal_counts
from tests.webhooks.receiver import Receiver

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RAW = b"From: news@shop.example\r\nSubject: q\r\n\r\nhello\r\n"


@pytest.fixture
async def nodes(pg_config: StorageConfig) -> AsyncIterator[tuple[PostgresStore, PostgresStore]]:
    a = await PostgresStore.open(pg_config)
    b = await PostgresStore.open(pg_config)
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()


async def _claim_all(store: PostgresStore, now: datetime, batch: int) -> list[int]:
    """Claim in batches until nothing is due; the job ids claimed."""
    claimed: list[int] = []
    while True:
        got = await store.claim_attempts(now, now + timedelta(seconds=60), batch)
        if not got:
            return claimed
        claimed.extend(a.job_id for a in got)
        await asyncio.sleep(0)


async def test_two_nodes_claim_2000_rows_each_once(nodes: tuple[PostgresStore, PostgresStore]) -> None:
    a, b = nodes
    recipients = [(f"u{i}@dest.example", None) for i in range(2000)]
    for start in range(0, 2000, 500):
        await a.record_outbound(RAW, "p@x", recipients[start : start + 500], T0)
    got_a, got_b = await asyncio.gather(_claim_all(a, T0, 37), _claim_all(b, T0, 41))
    assert got_a and got_b  # both worked
    assert len(got_a) + len(got_b) == 2000
    assert len(set(got_a) | set(got_b)) == 2000  # none twice, none missed
    now = T0 + timedelta(seconds=1)
    # each node finishes what it claimed, under its claim tokens
    for store, jobs in ((a, got_a), (b, got_b)):
        resends = {r.id: r for r in await store.list_resends(limit=5000)}
        await store.finish_attempts(
            [(j, resends[j].delivery_id, DeliveryState.DELIVERED, now, None) for j in jobs]
        )
    assert (await a.queue_counts())["done"] == 2000
    assert (
        await scalar(a, "SELECT COUNT(*) FROM deliveries WHERE state = 'delivered' AND attempts = 1") == 2000
    )


async def test_a_dead_node_s_lease_runs_out_and_another_node_takes_over(pg_config: StorageConfig) -> None:
    dead = await PostgresStore.open(pg_config)
    alive = await PostgresStore.open(pg_config)
    try:
        await alive.record_outbound(RAW, "p@x", [("u@dest.example", None)], T0)
        [claim] = await dead.claim_attempts(T0, T0 + timedelta(seconds=30), 10)
        await dead.close()  # killed mid-send: its row stays 'running' under its lease
        assert await alive.claim_attempts(T0 + timedelta(seconds=29), T0 + timedelta(seconds=90), 10) == []
        [again] = await alive.claim_attempts(T0 + timedelta(seconds=31), T0 + timedelta(seconds=90), 10)
        assert (again.job_id, again.attempt) == (claim.job_id, 1)
        await finish_attempt(alive, again.job_id, again.delivery_id, DeliveryState.DELIVERED, T0)
        assert (await alive.queue_counts())["done"] == 1
    finally:
        await alive.close()


async def test_a_slow_node_whose_lease_was_taken_over_finishes_nothing(
    nodes: tuple[PostgresStore, PostgresStore],
) -> None:
    slow, other = nodes
    _, [delivery] = await slow.record_outbound(RAW, "p@x", [("u@dest.example", None)], T0)
    [first] = await slow.claim_attempts(T0, T0 + timedelta(seconds=30), 10)
    [second] = await other.claim_attempts(T0 + timedelta(seconds=31), T0 + timedelta(seconds=90), 10)
    assert first.job_id == second.job_id
    # the slow node comes back and reports a refusal: the row is the other node's now
    await finish_attempt(slow, first.job_id, delivery, DeliveryState.SUPPRESSED, T0 + timedelta(seconds=32))
    job = await other.get_resend(first.job_id)
    assert job is not None and job.state.value == "running"
    got = await other.get_delivery(delivery)
    assert got is not None and got.state is DeliveryState.SENT
    await finish_attempt(other, second.job_id, delivery, DeliveryState.DELIVERED, T0 + timedelta(seconds=33))
    got = await other.get_delivery(delivery)
    assert got is not None and got.state is DeliveryState.DELIVERED
    assert (await other.queue_counts())["done"] == 1


async def test_two_nodes_trip_one_group_at_once_one_trip(nodes: tuple[PostgresStore, PostgresStore]) -> None:
    a, b = nodes
    a.enable_webhook_outbox(True)
    b.enable_webhook_outbox(True)
    await asyncio.gather(
        record_events(a, None, [_hard(i, True) for i in range(0, 40)], NOW),
        record_events(b, None, [_hard(i, True) for i in range(40, 80)], NOW),
    )
    assert await a.count_suppressions() == 80
    group = ("domain", "big.example", TEXT)
    alert = {"count": 80, "window": 600}
    moved = await asyncio.gather(
        *(s.trip_guard(group, NOW - timedelta(minutes=10), NOW, alert) for s in (a, b, a, b))
    )
    assert sum(moved) == 80  # each suppression moved once
    assert await guard_trip_count(a) == 1
    assert await scalar(a, "SELECT held FROM guard_trips") == 80
    assert await a.count_suppressions() == 0
    assert len(await a.list_quarantine()) == 80
    assert await scalar(a, "SELECT COUNT(*) FROM audit_log WHERE actor = 'guard'") == 80
    assert await scalar(a, "SELECT COUNT(*) FROM webhook_events WHERE type = 'guard_tripped'") == 1
    assert await scalar(a, "SELECT COUNT(*) FROM webhook_events WHERE type = 'suppression_removed'") == 80
    # two admins confirming at once: each entry once
    confirmed = await asyncio.gather(a.confirm_quarantine("x", NOW), b.confirm_quarantine("y", NOW))
    assert sum(confirmed) == 80 and await a.count_suppressions() == 80


async def test_counters_exact_with_two_nodes_writing(nodes: tuple[PostgresStore, PostgresStore]) -> None:
    a, b = nodes

    async def refusals(store: PostgresStore, n: int) -> None:
        for _ in range(n):
            await store.count_refusal("Shared@Dest.example", T0)

    async def bounces(store: PostgresStore, offset: int) -> None:
        for i in range(offset, offset + 100, 10):
            soft = [
                keyed(
                    BounceEvent(
                        f"s{j}@dest.example",
                        BounceKind.SOFT,
                        Reason.MAILBOXFULL,
                        T0,
                        diagnostic="452 4.2.2 mailbox full",
                        reply_code=452,
                        from_domain="shop.example",
                    )
                )
                for j in range(i, i + 10)
            ]
            await record_events(store, None, soft + [_hard(j, True) for j in range(i, i + 10)], T0)

    await asyncio.gather(refusals(a, 150), refusals(b, 150), bounces(a, 0), bounces(b, 100))
    assert await refusal_counts(a) == {"shared@dest.example": 300}
    counters = {
        (r[0], r[1], r[2]): int(r[3]) for r in await rows(a, "SELECT name, k1, k2, n FROM metric_counters")
    }
    assert counters[("bounces", "soft", "mailboxfull")] == 200
    assert counters[("bounces", "hard", "userunknown")] == 200
    assert counters[("suppressions_added", "bounce", "")] == 200
    assert await scalar(a, "SELECT SUM(amount) FROM report_soft_daily") == 200
    assert await scalar(a, "SELECT SUM(amount) FROM report_soft_monthly") == 200


async def test_one_node_dispatches_a_hook_and_hands_it_over_when_it_dies(pg_config: StorageConfig) -> None:
    a = await PostgresStore.open(pg_config)
    b = await PostgresStore.open(pg_config)
    try:
        for s in (a, b):
            s.enable_webhook_outbox(True)
            await s.materialize_webhook_deliveries("h", ("suppression_added",), T0)
        for i in range(5):
            await b.add_suppression(f"x{i}@dest.example", "asked", "admin", T0)
        await b.materialize_webhook_deliveries("h", ("suppression_added",), T0)
        assert len(await a.due_webhook_deliveries("h", T0, 100)) == 5  # a dispatches "h"
        assert await b.due_webhook_deliveries("h", T0, 100) == []  # b leaves it to a
        assert await b.next_webhook_due("h") is None
        await a.close()  # the node dies: its session, and the hook's lock, go with it
        assert len(await b.due_webhook_deliveries("h", T0, 100)) == 5
    finally:
        await a.close()
        await b.close()


async def test_an_event_committed_after_a_later_one_is_still_queued(
    nodes: tuple[PostgresStore, PostgresStore], pg_dsn: str
) -> None:
    """Ids are drawn at insert, not at commit: the dispatcher's copy waits for the writer that
    drew id N before it copies N+1, or its cursor would pass N for ever."""
    a, b = nodes
    for s in (a, b):
        s.enable_webhook_outbox(True)
    await a.materialize_webhook_deliveries("h", ("suppression_added",), T0)
    slow = await asyncpg.connect(pg_dsn)
    try:
        tx = slow.transaction()
        await tx.start()
        first = await slow.fetchval(
            "INSERT INTO webhook_events (type, at, recipient) VALUES ('suppression_added', 1, 'slow@x')"
            " RETURNING id"
        )
        await b.add_suppression("fast@dest.example", "asked", "admin", T0)  # id first + 1, committed
        copy = asyncio.create_task(a.materialize_webhook_deliveries("h", ("suppression_added",), T0))
        await asyncio.sleep(0.3)
        assert not copy.done()  # waits for the writer of `first`
        await tx.commit()
        assert await copy == 2
    finally:
        await slow.close()
    assert await a.materialize_webhook_deliveries("h", ("suppression_added",), T0) == 0
    queued = [r[0] for r in await rows(a, "SELECT event_id FROM webhook_deliveries ORDER BY event_id")]
    assert queued == [first, first + 1]


async def test_events_written_while_copying_are_each_queued_once(
    nodes: tuple[PostgresStore, PostgresStore],
) -> None:
    """Writers on two nodes and the dispatcher's copy at the same time: each event queued once."""
    a, b = nodes
    for s in (a, b):
        s.enable_webhook_outbox(True)
    await a.materialize_webhook_deliveries("h", ("suppression_added",), T0)
    done = asyncio.Event()

    async def writer(store: PostgresStore, prefix: str) -> None:
        for i in range(50):
            await store.add_suppression(f"{prefix}{i}@dest.example", "asked", "admin", T0)

    async def copier() -> None:
        while not done.is_set():
            await a.materialize_webhook_deliveries("h", ("suppression_added",), T0)
            await asyncio.sleep(0)

    task = asyncio.create_task(copier())
    await asyncio.gather(writer(a, "a"), writer(b, "b"), writer(a, "c"), writer(b, "d"))
    done.set()
    await task
    await b.materialize_webhook_deliveries("h", ("suppression_added",), T0)
    assert await count(a, "webhook_events") == 200
    assert await scalar(a, "SELECT COUNT(DISTINCT event_id) FROM webhook_deliveries") == 200
    assert await count(a, "webhook_deliveries") == 200


async def test_two_dispatchers_post_each_event_once_in_order(
    nodes: tuple[PostgresStore, PostgresStore], receiver: Receiver
) -> None:
    """Both nodes run the webhook dispatcher for one hook against a real receiver: every
    event arrives once, and a recipient's events in the order they were written."""
    hook = WebhookConfig(url=receiver.url, secret="s" * 20, timeout=5.0, name="platform")
    delivery = WebhookDeliveryConfig(poll_interval=0.05, retry_initial=0.2, retry_max_delay=0.5)
    clock = SystemClock()

    def sink() -> HttpSink:  # each node's own poster, as each daemon has
        return HttpSink(hook, Poster(delivery.concurrency), delivery.concurrency, clock)

    dispatchers = [WebhookDispatcher(s, [sink()], delivery, clock) for s in nodes]
    for store, dispatcher in zip(nodes, dispatchers, strict=True):
        store.enable_webhook_outbox(True)
        await dispatcher.start()
    try:
        for round_ in range(3):
            await asyncio.gather(
                *(
                    store.add_suppression(f"r{i}@dest.example", f"round {round_}", "admin", T0)
                    if round_ != 1
                    else store.remove_suppression(f"r{i}@dest.example", "round 1", "admin", T0)
                    for i, store in ((i, nodes[i % 2]) for i in range(40))
                )
            )
        async with asyncio.timeout(30):
            while len({r.event["id"] for r in receiver.received}) < 120:
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)  # a second POST of one event would arrive by now
    finally:
        for dispatcher in dispatchers:
            await dispatcher.stop()
    ids = [r.event["id"] for r in receiver.received]
    assert len(ids) == 120 and len(set(ids)) == 120  # each event once, by one node
    per_recipient: dict[str, list[int]] = {}
    for r in receiver.received:
        per_recipient.setdefault(r.event["recipient"], []).append(r.event["id"])
    assert all(seq == sorted(seq) and len(seq) == 3 for seq in per_recipient.values())
    assert sum(d.stats.delivered for d in dispatchers) == 120
    assert 120 in [d.stats.delivered for d in dispatchers]  # the hook's owner did all of it
