"""Several nodes on one PostgreSQL database: two stores (two pools, like two `bounced serve`
processes) record overlapping batches at the same time. Nothing may double or get lost:
each event is new on exactly one node, each suppression is added (and audited) once, and
every counter (profiles, report cells, metric counters) equals a count of the events."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

from bounced.config.storage import StorageConfig
from bounced.model import Action, BounceEvent, BounceKind, IntakeMessage, IntakeState, Reason, ReportGrouping
from bounced.report.bounce_text import normalise_bounce_text
from bounced.store import PostgresStore
from bounced.store.base import IntakeRecording, RecordOutcome
from tests.events import keyed
from tests.rawsql import rows, scalar
from tests.store_helpers import soft_bounce_groups

T0 = datetime(2026, 3, 30, 22, 0, tzinfo=UTC)  # the events span a day and a month boundary
ADDRESSES = [f"user{i}@{('gmail.com', 'web.de', 'example.org')[i % 3]}" for i in range(40)]


def _item(n: int) -> IntakeRecording:
    """Bounce message n: one event about one of 40 addresses (every 4th hard, the rest soft)."""
    hard = n % 4 == 0
    event = keyed(
        BounceEvent(
            recipient=ADDRESSES[n % len(ADDRESSES)],
            kind=BounceKind.HARD if hard else BounceKind.SOFT,
            reason=Reason.USERUNKNOWN if hard else Reason.MAILBOXFULL,
            received_at=T0 + timedelta(minutes=7 * n),
            action=Action.FAILED,
            status="5.1.1" if hard else "4.2.2",
            diagnostic=f"{'550 user unknown' if hard else '452 mailbox full'} (text {n % 5})",
            message_id=f"<orig-{n}@sender.test>",
            from_domain=("news.shop.test", None)[n % 2],
            sending_ip="198.51.100.1",
            suppress=hard,
        )
    )
    return IntakeRecording(intake_id=None, events=(event,), bounce_id=f"<bounce-{n}@mx.test>")


async def _record(store: PostgresStore, items: list[IntakeRecording], batch: int) -> list[RecordOutcome]:
    out: list[RecordOutcome] = []
    for start in range(0, len(items), batch):
        out += await store.record_batch(items[start : start + batch], T0)
    return out


async def test_two_nodes_recording_overlapping_batches_double_nothing(pg_config: StorageConfig) -> None:
    total = 600
    items = [_item(n) for n in range(total)]
    node_a = await PostgresStore.open(pg_config)
    node_b = await PostgresStore.open(StorageConfig(**{**pg_config.__dict__, "node": "other-node"}))
    node_a.enable_webhook_outbox(True)
    node_b.enable_webhook_outbox(True)
    try:
        # A goes forward over 0..449, B backward over 150..599: 300 bounces reach both, in
        # opposite orders (the order that deadlocks writers without a common lock order).
        backward = items[150:][::-1]
        outcomes_a, outcomes_b = await asyncio.gather(
            _record(node_a, items[:450], 25), _record(node_b, backward, 30)
        )
        new_ids = [i for o in outcomes_a + outcomes_b for i in o.event_ids if i is not None]
        assert len(new_ids) == len(set(new_ids)) == total  # each event new on exactly one node
        assert await scalar(node_a, "SELECT count(*) FROM bounce_events") == total

        hard_addresses = {ADDRESSES[n % len(ADDRESSES)] for n in range(total) if n % 4 == 0}
        suppressed = [a for o in outcomes_a + outcomes_b for a in o.suppressed]
        assert sorted(suppressed) == sorted(hard_addresses)  # each added (and reported) once
        assert await node_a.count_suppressions() == len(hard_addresses)
        audit = await rows(node_a, "SELECT address FROM audit_log WHERE action = 'suppression.add'")
        assert sorted(a for (a,) in audit) == sorted(hard_addresses)
        added = await rows(node_a, "SELECT type, count(*) FROM webhook_events GROUP BY type ORDER BY type")
        assert dict(added) == {"hard_bounce": total // 4, "soft_bounce": total - total // 4,
                               "suppression_added": len(hard_addresses)}  # fmt: skip

        # Profiles: every bounce counted once, on whichever node recorded it.
        per_address = Counter(ADDRESSES[n % len(ADDRESSES)] for n in range(total))
        for address, expected in per_address.items():
            profile = await node_b.get_profile(address)
            assert profile is not None and profile.bounce_count == expected, address

        # Counters kept by triggers under concurrent upserts: exact.
        metrics = await node_a.metrics_snapshot(T0)
        bounces = {(k1, k2): n for name, k1, k2, n in metrics.counters if name == "bounces"}
        assert bounces == {("hard", "userunknown"): total // 4, ("soft", "mailboxfull"): total - total // 4}
        suppressions_added = {k1: n for name, k1, _, n in metrics.counters if name == "suppressions_added"}
        assert suppressions_added == {"bounce": len(hard_addresses)}
        soft = [n for n in range(total) if n % 4]
        for table in ("report_soft_daily", "report_soft_monthly"):
            assert await scalar(node_a, f"SELECT sum(amount) FROM {table}") == len(soft), table
        report = [
            g
            async for g in soft_bounce_groups(node_b, T0, T0 + timedelta(days=30), ReportGrouping.FROM_DOMAIN)
        ]
        assert sum(g.amount for g in report) == len(soft)
        expected_cells = Counter(
            (
                ("news.shop.test", None)[n % 2],
                ADDRESSES[n % len(ADDRESSES)].split("@")[1],
                normalise_bounce_text(f"452 mailbox full (text {n % 5})", None),
            )
            for n in soft
        )
        got = {(g.group, g.recipient_domain, g.text_key): g.amount for g in report}
        assert got == dict(expected_cells)
    finally:
        await asyncio.gather(node_a.close(), node_b.close())


async def test_adopting_a_node_spool_twice_adds_each_message_once(pg_config: StorageConfig) -> None:
    node_a = await PostgresStore.open(pg_config)
    node_b = await PostgresStore.open(pg_config)
    try:
        spool = [
            IntakeMessage(id=i, received_at=T0, mail_from="", rcpt_tos=("b@mx.test",), peer="192.0.2.1",
                          raw=f"Subject: {i}\r\n\r\n".encode(), state=IntakeState.PENDING)
            for i in range(1, 101)
        ]  # fmt: skip
        # The same node's spool moved twice at once (a restart racing the old mover), and a
        # second node whose local ids collide with the first's.
        first, again = await asyncio.gather(
            node_a.adopt_intake("mx1", spool[:70]), node_b.adopt_intake("mx1", spool[30:])
        )
        other = await node_a.adopt_intake("mx2", spool[:10])
        assert set(first) == set(range(1, 71)) and set(again) == set(range(31, 101))
        for local_id in range(31, 71):
            assert first[local_id] == again[local_id]  # one central row per (node, local id)
        assert await scalar(node_a, "SELECT count(*) FROM intake") == 110
        assert {state for _, state in other.values()} == {IntakeState.PENDING}
        assert not {central for central, _ in other.values()} & {central for central, _ in first.values()}
        message = await node_a.get_intake(first[5][0])
        assert message is not None and message.raw == b"Subject: 5\r\n\r\n"
    finally:
        await asyncio.gather(node_a.close(), node_b.close())
