"""apply_batch and the Processor's windows: one transaction for many messages, same result
as applying them one by one, and a message that breaks the store step is isolated."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bounced.apply.batch import ApplyResult, apply_batch, apply_intake
from bounced.clock import FakeClock
from bounced.config import Config
from bounced.config.loader import build
from bounced.config.storage import StorageConfig
from bounced.errors import StoreError
from bounced.model import Attribution, IntakeMessage, IntakeState, ParsedMessage
from bounced.processor import Processor, ProcessorSettings
from bounced.store import open_store
from bounced.store.base import IntakeRecording, RecordOutcome
from bounced.store.sqlite import SQLiteStore
from tests.apply.bounce_messages import arf, dsn, plain

RECEIVED = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
RCPT = ["b-tok@bounces.sender.test"]
TABLES = {
    "bounce_events": "id",
    "profiles": "address",
    "suppressions": "address",
    "audit_log": "id",
    "intake": "id",
    "report_soft_daily": "day, from_domain, sending_ip, text_id",
}


def config() -> Config:
    return build(Config, {"verp": {"unsigned_bounces": "suppress"}})


class TokenAttributor:
    """Signed attribution for one address (its VERP token verified), none for the rest."""

    def __init__(self, address: str) -> None:
        self.address = address

    async def attribute(self, intake: IntakeMessage, parsed: ParsedMessage) -> Attribution | None:
        if any(f.recipient == self.address for f in parsed.failures):
            return Attribution(recipient=self.address, delivery_id=7, mailing_id="m-7", signed=True)
        return None


def messages() -> list[bytes]:
    """A mixed backlog: hard, soft, complaint, duplicates (in the same window and across
    windows), ordinary mail, junk, a second bounce about the same recipient."""
    hard = dsn("gone@example.org", "5.1.1", "550 5.1.1 User unknown", bounce_id="<h1@mx>")
    soft = dsn("full@example.org", "4.2.2", "452 4.2.2 Mailbox full", "delayed", bounce_id="<s1@mx>")
    return [
        hard,
        soft,
        hard,  # retransmitted in the same window: counted once
        arf("angry@example.org"),
        plain(),
        b"\x00\x01 binary junk",
        dsn("gone@EXAMPLE.org", "5.1.1", "550 5.1.1 No such user", bounce_id="<h2@mx>"),  # second bounce
        dsn("signed@example.org", "4.2.2", "452 4.2.2 Over quota", "delayed", bounce_id="<s2@mx>"),
        soft,  # again, in the next window
        dsn("other@example.org", "5.7.1", "550 5.7.1 Blocked by policy", bounce_id="<b1@mx>"),
        hard,
    ]


def dump(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(db) as conn:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY {key}").fetchall() for t, key in TABLES.items()}


async def spool_all(store: SQLiteStore, raws: Sequence[bytes]) -> list[IntakeMessage]:
    for raw in raws:
        await store.spool(raw, "", RCPT, "127.0.0.1", RECEIVED)
    return await store.pending_intake(limit=1000)


async def test_a_batch_records_what_one_by_one_records(tmp_path: Path) -> None:
    clock = FakeClock(RECEIVED)
    attributor = TokenAttributor("signed@example.org")
    one_db, batch_db = tmp_path / "one.sqlite3", tmp_path / "batch.sqlite3"
    one = await open_store(StorageConfig(path=str(one_db)))
    batch = await open_store(StorageConfig(path=str(batch_db)))
    try:
        singles: list[ApplyResult] = []
        for intake in await spool_all(one, messages()):
            singles.append(await apply_intake(one, intake, config(), clock, attributor))
        pending = await spool_all(batch, messages())
        # two windows: duplicates are caught within a window and against an earlier one
        batched = await apply_batch(batch, pending[:6], config(), clock, attributor)
        batched += await apply_batch(batch, pending[6:], config(), clock, attributor)
    finally:
        await one.close()
        await batch.close()
    assert batched == singles
    assert [r.state for r in singles].count(IntakeState.UNPARSEABLE) == 1
    assert [len(r.written) for r in singles] == [1, 1, 0, 1, 0, 0, 1, 1, 0, 1, 0]
    assert [r.duplicates for r in singles] == [0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1]
    assert singles[0].suppressed == ("gone@example.org",) and singles[6].suppressed == ()
    tables = dump(batch_db)
    assert tables == dump(one_db)
    assert len(tables["bounce_events"]) == 6 and len(tables["suppressions"]) == 2  # gone, angry
    profiles = {row[0]: row for row in tables["profiles"]}
    assert profiles["gone@example.org"][2] == 2  # bounce_count: two distinct bounces, not four


async def test_the_same_bounce_twice_in_one_batch_counts_once(store: SQLiteStore) -> None:
    raw = dsn("twice@example.org", "5.1.1", "550 5.1.1 User unknown")
    first, second = await apply_batch(
        store, await spool_all(store, [raw, raw]), config(), FakeClock(RECEIVED)
    )
    assert isinstance(first, ApplyResult) and isinstance(second, ApplyResult)
    assert len(first.written) == 1 and second.written == () and second.duplicates == 1
    assert first.suppressed == ("twice@example.org",) and second.suppressed == ()
    profile = await store.get_profile("twice@example.org")
    assert profile is not None and profile.bounce_count == 1
    assert [e.action for e in await store.audit_entries("twice@example.org")] == ["suppression.add"]


class PoisonedStore:
    """The real store, except that recording a batch holding `poison` fails (as a row
    breaking a constraint or a trigger would); counts the record_batch calls."""

    def __init__(self, store: SQLiteStore, poison: int) -> None:
        self._store = store
        self.poison = poison
        self.batches: list[list[int | None]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def record_batch(self, items: Sequence[IntakeRecording], now: datetime) -> list[RecordOutcome]:
        self.batches.append([i.intake_id for i in items])
        if any(i.intake_id == self.poison for i in items):
            raise StoreError("database write failed: CHECK constraint failed")
        return await self._store.record_batch(items, now)


async def test_a_message_breaking_the_store_step_is_quarantined_and_the_rest_applied(
    store: SQLiteStore,
) -> None:
    raws = [
        dsn(f"user{i}@example.org", "5.1.1", "550 5.1.1 User unknown", bounce_id=f"<{i}@mx>")
        for i in range(6)
    ]
    pending = await spool_all(store, raws)
    poisoned = PoisonedStore(store, poison=pending[2].id)
    settings = ProcessorSettings(retry_delay=0.01)
    processor = Processor(poisoned, config(), FakeClock(RECEIVED), settings=settings)
    await processor.start()
    await processor.drained(timeout=10)
    await processor.stop()
    states = [(await store.get_intake(i.id)) for i in pending]
    assert [s.state if s else None for s in states] == [IntakeState.APPLIED] * 2 + [IntakeState.FAILED] + [
        IntakeState.APPLIED
    ] * 3
    bad = states[2]
    assert bad is not None and bad.attempts == 3 and bad.error and "CHECK constraint" in bad.error
    assert bad.raw == raws[2]
    assert processor.applied == 5 and processor.failed == 1
    # the first pass tried the whole window in one transaction, then each message alone
    assert poisoned.batches[0] == [i.id for i in pending]
    assert poisoned.batches[1:7] == [[i.id] for i in pending]
    for i in range(6):
        events = await store.events_for(f"user{i}@example.org")
        assert len(events) == (0 if i == 2 else 1)


class FlakyAttributor:
    def __init__(self, failing: str) -> None:
        self.failing = failing

    async def attribute(self, intake: IntakeMessage, parsed: ParsedMessage) -> Attribution | None:
        if any(f.recipient == self.failing for f in parsed.failures):
            raise RuntimeError("delivery lookup unavailable")
        return None


async def test_an_attributor_error_keeps_only_that_message_pending(store: SQLiteStore) -> None:
    raws = [
        dsn(f"u{i}@example.org", "5.1.1", "550 5.1.1 User unknown", bounce_id=f"<{i}@mx>") for i in range(3)
    ]
    results = await apply_batch(
        store, await spool_all(store, raws), config(), FakeClock(RECEIVED), FlakyAttributor("u1@example.org")
    )
    assert isinstance(results[0], ApplyResult) and isinstance(results[2], ApplyResult)
    assert isinstance(results[1], RuntimeError)
    [still] = await store.pending_intake()
    assert still.raw == raws[1]


@pytest.mark.parametrize("size", [1, 3, 200])
async def test_the_processor_applies_a_backlog_in_windows(store: SQLiteStore, size: int) -> None:
    raws = [
        dsn(f"w{i}@example.org", "4.2.2", "452 4.2.2 Full", "delayed", bounce_id=f"<{i}@mx>")
        for i in range(7)
    ]
    await spool_all(store, raws)
    recorder = PoisonedStore(store, poison=-1)
    settings = ProcessorSettings(batch_size=size)
    processor = Processor(recorder, config(), FakeClock(RECEIVED), settings=settings)
    assert await processor.run_once() is False
    await processor.stop()
    assert processor.applied == 7 and await store.pending_intake() == []
    assert [len(b) for b in recorder.batches] == [len(raws[i : i + size]) for i in range(0, 7, size)]
