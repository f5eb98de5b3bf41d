"""The queue in burst mode (`run_once`) with a fake clock, a real store and a real next hop."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bounced.clock import FakeClock
from bounced.config import Config
from bounced.config.loader import build
from bounced.config.storage import StorageConfig
from bounced.model import Action, BounceEvent, BounceKind, DeliveryState, Reason
from bounced.outbound.queue import ResendQueue
from bounced.outbound.sender import RelaySender
from bounced.store import Store, open_store
from tests.conftest import free_port
from tests.events import keyed
from tests.store_helpers import record_events
from tests.submission.nexthop import NextHop

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RAW = b"From: news@shop.example\r\nMessage-ID: <q1@shop.example>\r\nSubject: q\r\n\r\nhello\r\n"


def config(db: Path, relay_port: int, **resend: object) -> Config:
    return build(
        Config,
        {
            "storage": {"path": str(db)},
            "relay": {"host": "127.0.0.1", "port": relay_port, "timeout": 3.0},
            "verp": {"domain": "bounces.example.net", "secret": "k-secret-0123456789"},
            "resend": {"default": {"delays": [60], "attempts": 2, "max_age": 3600}, **resend},
        },
    )


@pytest.fixture
async def hop() -> AsyncIterator[NextHop]:
    server = await NextHop().start()
    yield server
    await server.stop()


def make_queue(store: Store, cfg: Config, clock: FakeClock) -> ResendQueue:
    return ResendQueue(store, cfg, clock, RelaySender(cfg.relay), rng=random.Random(7))


def soft_event(delivery_id: int, **kw: object) -> BounceEvent:
    fields: dict[str, object] = dict(
        recipient="u@dest.example", kind=BounceKind.SOFT, reason=Reason.MAILBOXFULL, received_at=T0,
        action=Action.FAILED, status="4.2.2", reply_code=452, diagnostic="452 4.2.2 Mailbox full",
        delivery_id=delivery_id, signed=True, message_id=f"<bounce-{kw.pop('n', 1)}@x>",
    )  # fmt: skip
    fields.update(kw)
    return keyed(BounceEvent(**fields))  # type: ignore[arg-type]


async def test_resend_cycle_with_fake_clock(store: Store, db_path: Path, hop: NextHop) -> None:
    clock = FakeClock(T0)
    cfg = config(db_path, hop.port)
    queue = make_queue(store, cfg, clock)
    _, [did] = await store.record_outbound(RAW, "p@x", [("u@dest.example", None)], T0)
    run = await queue.run_once()
    assert (run.attempted, run.delivered) == (1, 1)
    # Two bounces about attempt 1 (different bounce messages) and a delay notice.
    await record_events(store, None, [soft_event(did, n=1), soft_event(did, n=2, status="4.2.1")], T0)
    await record_events(store, None, [soft_event(did, n=3, action=Action.DELAYED, status="4.4.7")], T0)
    run = await queue.run_once()
    assert (run.scheduled, run.ignored, run.attempted) == (1, 2, 0)
    [job] = await store.list_resends()
    assert (job.attempt, (job.due_at - T0).total_seconds()) == (2, 60)
    clock.advance(59)
    assert (await queue.run_once()).attempted == 0  # not due yet
    clock.advance(1)
    run = await queue.run_once()
    assert (run.attempted, run.delivered) == (1, 1)
    assert len(hop.delivered_to("u@dest.example")) == 2
    delivery = await store.get_delivery(did)
    assert delivery is not None and (delivery.state, delivery.attempts) == (DeliveryState.DELIVERED, 2)
    # Rules allow 2 resends; a bounce after the last one gives up, once.
    await record_events(store, None, [soft_event(did, n=4)], clock.now())
    await queue.run_once()
    clock.advance(60)
    await queue.run_once()
    await record_events(store, None, [soft_event(did, n=5, diagnostic="452 still full")], clock.now())
    run = await queue.run_once()
    assert run.gave_up == 1
    [nd] = await store.list_non_deliveries()
    assert (nd.attempts, nd.last_bounce_text) == (3, "452 still full")
    await record_events(store, None, [soft_event(did, n=6)], clock.now())
    run = await queue.run_once()
    assert (run.gave_up, run.scheduled, run.ignored) == (0, 0, 1)
    assert len(await store.list_non_deliveries()) == 1


async def test_suppressed_before_resend_cancels(store: Store, db_path: Path, hop: NextHop) -> None:
    clock = FakeClock(T0)
    queue = make_queue(store, config(db_path, hop.port), clock)
    _, [did] = await store.record_outbound(RAW, "p@x", [("u@dest.example", None)], T0)
    await queue.run_once()
    await record_events(store, None, [soft_event(did)], T0)
    await queue.run_once()
    await store.add_suppression("u@dest.example", "complaint by phone", "tester", T0)
    clock.advance(3600)
    run = await queue.run_once()
    assert (run.attempted, run.cancelled, run.delivered) == (1, 1, 0)
    assert len(hop.delivered_to("u@dest.example")) == 1
    delivery = await store.get_delivery(did)
    assert delivery is not None and delivery.state is DeliveryState.SUPPRESSED
    assert (await store.queue_counts())["cancelled"] == 1


async def test_unreachable_relay_is_our_side_and_resent(store: Store, db_path: Path) -> None:
    clock = FakeClock(T0)
    queue = make_queue(store, config(db_path, free_port()), clock)
    await store.record_outbound(RAW, "p@x", [("u@dest.example", None)], T0)
    run = await queue.run_once()
    assert (run.attempted, run.bounced, run.scheduled) == (1, 1, 1)
    [event] = await store.events_for("u@dest.example")
    assert (event.kind, event.reason, event.source, event.status) == (
        BounceKind.OUR_SIDE,
        Reason.NETWORKERROR,
        "smtp",
        "4.4.1",
    )
    assert event.diagnostic.startswith("our relay unreachable: ")
    assert await store.get_suppression("u@dest.example") is None
    assert await store.get_profile("u@dest.example") is None  # nothing counted on the recipient
    [job] = await store.list_resends()
    # "[Errno 111] Connect call failed" (asyncio) or "[Errno 111] Connection refused" (uvloop)
    assert job.attempt == 2 and "SMTPConnectError" in (job.last_bounce_text or "")
    assert "[Errno 111]" in (job.last_bounce_text or "")


async def test_blocked_at_data_is_undelivered_not_suppressed(
    store: Store, db_path: Path, hop: NextHop
) -> None:
    hop.script(
        "u@dest.example", "data", "554 5.7.1 Service unavailable; client host blocked using zen.spamhaus.org"
    )
    clock = FakeClock(T0)
    queue = make_queue(store, config(db_path, hop.port), clock)
    await store.record_outbound(RAW, "p@x", [("u@dest.example", None)], T0)
    run = await queue.run_once()
    assert run.gave_up == 1
    [event] = await store.events_for("u@dest.example")
    assert event.kind is BounceKind.BLOCKED and not event.suppress
    assert await store.get_suppression("u@dest.example") is None
    [nd] = await store.list_non_deliveries()
    assert nd.last_bounce_text.startswith("554 5.7.1 Service unavailable")


async def test_expired_lease_is_taken_over_once(store: Store, db_path: Path, hop: NextHop) -> None:
    clock = FakeClock(T0)
    queue = make_queue(store, config(db_path, hop.port, lease=30.0), clock)
    await store.record_outbound(RAW, "p@x", [("u@dest.example", None)], T0)
    # A worker that claimed the row and died: nobody else may take it while the lease holds.
    [claimed] = await store.claim_attempts(T0, datetime(2026, 3, 1, 12, 0, 30, tzinfo=UTC), 10)
    assert (await queue.run_once()).attempted == 0
    clock.advance(31)
    run = await queue.run_once()
    assert (run.attempted, run.delivered) == (1, 1)
    assert (await queue.run_once()).attempted == 0
    assert len(hop.received) == 1 and claimed.attempt == 1


async def test_two_workers_never_send_a_row_twice(
    store: Store, storage_config: StorageConfig, db_path: Path, hop: NextHop
) -> None:
    clock = FakeClock(T0)
    cfg = config(db_path, hop.port, batch_size=8, concurrency=4)
    other_store = await open_store(storage_config)  # a second process (node): its own connections
    first, second = make_queue(store, cfg, clock), make_queue(other_store, cfg, clock)
    recipients = [(f"u{i}@dest.example", None) for i in range(60)]
    await store.record_outbound(RAW, "p@x", recipients, T0)
    try:
        runs = await asyncio.gather(first.run_once(), second.run_once())
    finally:
        await other_store.close()
    assert all(r.attempted > 0 for r in runs)
    assert sum(r.attempted for r in runs) == 60
    assert sorted(r.recipient for r in hop.received) == sorted(r for r, _ in recipients)
    assert (await store.queue_counts())["done"] == 60


async def test_new_rules_apply_to_future_scheduling(store: Store, db_path: Path, hop: NextHop) -> None:
    clock = FakeClock(T0)
    cfg = config(db_path, hop.port)
    queue = make_queue(store, cfg, clock)
    _, [a, b] = await store.record_outbound(
        RAW, "p@x", [("a@dest.example", None), ("b@dest.example", None)], T0
    )
    await queue.run_once()
    await record_events(store, None, [soft_event(a, recipient="a@dest.example")], T0)
    await queue.run_once()
    queue.update_config(config(db_path, hop.port, default={"delays": [5], "attempts": 1}))
    await record_events(store, None, [soft_event(b, recipient="b@dest.example")], T0)
    await queue.run_once()
    due = {j.recipient: (j.due_at - T0).total_seconds() for j in await store.list_resends()}
    assert due == {"a@dest.example": 60, "b@dest.example": 5}


async def test_relay_auth(store: Store, db_path: Path) -> None:
    hop = await NextHop(auth=("sender", "s3cret")).start()
    try:
        clock = FakeClock(T0)
        good = config(db_path, hop.port)
        good = build(
            Config,
            {**_as_dict(good), "relay": {"port": hop.port, "username": "sender", "password": "s3cret"}},
        )
        queue = make_queue(store, good, clock)
        await store.record_outbound(RAW, "p@x", [("a@dest.example", None)], T0)
        assert (await queue.run_once()).delivered == 1
        bad = build(
            Config, {**_as_dict(good), "relay": {"port": hop.port, "username": "sender", "password": "x"}}
        )
        queue = make_queue(store, bad, clock)
        await store.record_outbound(RAW, "p@x", [("b@dest.example", None)], T0)
        run = await queue.run_once()
        assert (run.delivered, run.bounced, run.scheduled) == (0, 1, 1)  # our problem: soft, retried later
        [event] = await store.events_for("b@dest.example")
        assert event.reason is Reason.NETWORKERROR and "535" in event.diagnostic
        assert [r.recipient for r in hop.received] == ["a@dest.example"]
    finally:
        await hop.stop()


def _as_dict(cfg: Config) -> dict[str, object]:
    return {
        "storage": {"path": cfg.storage.path},
        "verp": {"domain": cfg.verp.domain, "secret": cfg.verp.secret},
        "resend": {"default": {"delays": [60], "attempts": 2, "max_age": 3600}},
    }


async def test_idle_connection_timed_out_by_relay_is_not_a_bounce(
    store: Store, db_path: Path, hop: NextHop
) -> None:
    clock = FakeClock(T0)
    queue = make_queue(store, config(db_path, hop.port), clock)
    await store.record_outbound(RAW, "p@x", [("a@dest.example", None)], T0)
    assert (await queue.run_once()).delivered == 1  # leaves an idle connection in the pool
    hop.script("*", "mail", "421 4.4.2 nexthop.test Error: timeout exceeded")
    await store.record_outbound(RAW, "p@x", [("b@dest.example", None)], T0)
    run = await queue.run_once()
    assert (run.delivered, run.bounced) == (1, 0)
    assert await store.events_for("b@dest.example") == []
    assert [r.recipient for r in hop.received] == ["a@dest.example", "b@dest.example"]


async def test_5xx_at_mail_from_never_suppresses(store: Store, db_path: Path, hop: NextHop) -> None:
    hop.script("*", "mail", "550 5.1.1 <b+x@bounces.example.net>: Sender address rejected: User unknown")
    queue = make_queue(store, config(db_path, hop.port), FakeClock(T0))
    await store.record_outbound(RAW, "p@x", [("a@dest.example", None)], T0)
    run = await queue.run_once()
    assert run.scheduled == 1  # about us: resent, not given up on the recipient
    [event] = await store.events_for("a@dest.example")
    assert (event.kind, event.reason, event.suppress) == (BounceKind.OUR_SIDE, Reason.REJECTED, False)
    assert event.diagnostic.startswith("our relay refused MAIL FROM: 550 5.1.1")
    assert await store.get_profile("a@dest.example") is None
    assert await store.get_suppression("a@dest.example") is None
