"""`bounced storage copy` end to end: a SQLite installation built through the real pipeline
(corpus bounces parsed, classified and applied; the sending side, webhooks, the guard) is
copied into a fresh PostgreSQL database twice, and both stores answer the same."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bounced.apply.batch import apply_intake
from bounced.cli import main
from bounced.clock import FakeClock
from bounced.config import Config
from bounced.config.loader import build
from bounced.config.storage import StorageConfig
from bounced.model import BounceEvent, BounceKind, DeliveryState, Reason, ReportGrouping
from bounced.store.base import Store
from bounced.store.postgres import PostgresStore
from bounced.store.sqlite import SQLiteStore
from tests.store_helpers import guard_trip_count, record_events, refusal_counts, soft_bounce_groups

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
RAW = b"From: news@shop.example\r\nSubject: q\r\n\r\nhello\r\n"
TEXT = "550 5.1.1 <EMAIL>: user unknown"


async def _build(path: Path, corpus: Path) -> None:
    store = await SQLiteStore.open(StorageConfig(path=str(path)))
    store.enable_webhook_outbox(True)
    try:
        await store.materialize_webhook_deliveries(
            "h", ("hard_bounce", "soft_bounce", "suppression_added"), NOW
        )
        cfg = build(Config, {"verp": {"unsigned_bounces": "suppress"}})
        for i, eml in enumerate(sorted((corpus / "emails").glob("*.eml"))[:80]):
            at = NOW - timedelta(days=i % 20, minutes=i)
            intake_id = await store.spool(eml.read_bytes(), "", ["b@bounces.test"], "127.0.0.1", at)
            intake = await store.get_intake(intake_id)
            assert intake is not None
            await apply_intake(store, intake, cfg, FakeClock(at))
        hard = [
            BounceEvent(
                f"g{i}@big.example",
                BounceKind.HARD,
                Reason.USERUNKNOWN,
                NOW,
                diagnostic=TEXT,
                reply_code=550,
                signed=True,
                suppress=True,
                text_key=TEXT,
            )
            for i in range(5)
        ]
        await record_events(store, None, hard, NOW)
        await store.trip_guard(
            ("domain", "big.example", TEXT), NOW - timedelta(minutes=10), NOW, {"count": 5}
        )
        await store.confirm_quarantine("carla", NOW, ids=[(await store.list_quarantine())[0].id])
        await store.add_suppression("admin@dest.example", "asked", "alice", NOW)
        await store.add_suppression("gone@dest.example", "asked", "alice", NOW)
        await store.remove_suppression("gone@dest.example", "mistake", "alice", NOW)
        await store.count_refusal("admin@dest.example", NOW)
        _, ids = await store.record_outbound(
            RAW, "p@x", [(f"r{i}@dest.example", None) for i in range(6)], NOW
        )
        claimed = await store.claim_attempts(NOW, NOW + timedelta(seconds=60), 3)
        await store.finish_attempts(
            [(a.job_id, a.delivery_id, DeliveryState.DELIVERED, NOW, None) for a in claimed]
        )
        await store.schedule_resend(ids[0], 2, NOW + timedelta(hours=1), NOW, "452 mailbox full")
        await store.give_up_delivery(ids[1], NOW, "550 gone")
        await store.materialize_webhook_deliveries(
            "h", ("hard_bounce", "soft_bounce", "suppression_added"), NOW
        )
    finally:
        await store.close()


async def _send_the_rest(path: Path) -> None:
    """What the old daemon did after a first copy: the other due attempts went out."""
    store = await SQLiteStore.open(StorageConfig(path=str(path)))
    try:
        claimed = await store.claim_attempts(NOW, NOW + timedelta(seconds=60), 10)
        assert len(claimed) == 3
        done = NOW + timedelta(seconds=5)
        await store.finish_attempts(
            [(a.job_id, a.delivery_id, DeliveryState.DELIVERED, done, None) for a in claimed]
        )
        await store.add_suppression("later@dest.example", "asked", "alice", done)
    finally:
        await store.close()


async def _answers(store: Store) -> dict[str, Any]:
    start, end = NOW - timedelta(days=40), NOW + timedelta(days=1)
    report = [g async for g in soft_bounce_groups(store, start, end, ReportGrouping.FROM_DOMAIN)]
    snapshot = await store.metrics_snapshot(NOW)
    suppressions = await store.list_suppressions(limit=100_000)
    return {
        "suppressions": suppressions,
        "report": report,
        "queue": await store.list_resends(include_first=True),
        "queue_counts": await store.queue_counts(),
        "non_deliveries": await store.list_non_deliveries(),
        "counters": sorted(snapshot.counters),
        "audit": await store.audit_entries(),
        "quarantine": await store.list_quarantine(None),
        "webhooks": await store.list_webhook_deliveries(),
        "refusals": await refusal_counts(store),
        "events": [await store.events_for(s.address) for s in suppressions],
        "profiles": [await store.get_profile(s.address) for s in suppressions],
        "guard_trips": await guard_trip_count(store),
    }


async def _answers_of_both(path: Path, dsn: str) -> tuple[dict[str, Any], dict[str, Any]]:
    sqlite = await SQLiteStore.open(StorageConfig(path=str(path)))
    postgres = await PostgresStore.open(StorageConfig(backend="postgresql", dsn=dsn))
    try:
        return await _answers(sqlite), await _answers(postgres)
    finally:
        await sqlite.close()
        await postgres.close()


def test_copy_twice_and_both_stores_answer_the_same(
    tmp_path: Path, corpus: Path, pg_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "old.sqlite3"
    asyncio.run(_build(path, corpus))
    argv = ["storage", "copy", "--from", f"sqlite:{path}", "--to", pg_dsn, "--batch", "7"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "copy verified" in out and "MISMATCH" not in out
    asyncio.run(_send_the_rest(path))  # the old daemon went on: rows changed, one added
    assert main(argv) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:-1]}
    assert lines["resend_jobs"][1] == "3" and lines["suppressions"][1] == "1", out
    assert main(argv) == 0  # idempotent: nothing new
    out = capsys.readouterr().out
    assert "nothing new copied" in out
    lines = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:-1]}
    assert lines["bounce_events"][1] == "0" and int(lines["bounce_events"][0]) > 50
    assert all(v[1] == "0" and v[0] == v[2] for v in lines.values())

    old, new = asyncio.run(_answers_of_both(path, pg_dsn))
    assert old["report"] and old["suppressions"] and old["queue"] and old["webhooks"]
    for key in old:
        assert new[key] == old[key], key

    async def new_rows() -> tuple[int, int]:
        postgres = await PostgresStore.open(StorageConfig(backend="postgresql", dsn=pg_dsn))
        try:  # the sequences moved past the copied ids
            message, _ = await postgres.record_outbound(RAW, "p@x", [("n@dest.example", None)], NOW)
            await postgres.add_suppression("late@dest.example", "asked", "alice", NOW)
            entry = (await postgres.audit_entries("late@dest.example"))[0]
            return message, entry.id
        finally:
            await postgres.close()

    message, audit_id = asyncio.run(new_rows())
    assert message == 2 and audit_id > max(a.id for a in old["audit"])  # the source had message 1
    # a row the source does not have: the copy says so and fails
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "suppressions differs after the copy" in err and "source" in err and "target" in err


def test_bad_arguments_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["storage", "copy", "--from", str(tmp_path / "x.sqlite3"), "--to", "postgresql://h/db"])
    assert exit_info.value.code == 2
    assert "expected sqlite:PATH" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(
            ["storage", "copy", "--from", f"sqlite:{tmp_path / 'none.sqlite3'}", "--to", "postgresql://h/db"]
        )
    assert "no SQLite database at" in capsys.readouterr().err
