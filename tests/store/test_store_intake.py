"""The intake spool: group commit, durability, pending/mark."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bounced.errors import SpoolError, StoreError
from bounced.model import IntakeState
from bounced.store import SQLiteStore

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


async def test_concurrent_spools_share_commits_and_are_all_durable(store: SQLiteStore, db_path: Path) -> None:
    count = 200
    raws = [f"Subject: bounce {i}\r\n\r\nbody {i}\r\n".encode() for i in range(count)]
    ids = await asyncio.gather(
        *(store.spool(raw, "", [f"b+{i}@bounces.test"], "127.0.0.1", NOW) for i, raw in enumerate(raws))
    )
    assert len(set(ids)) == count
    # Batched: far fewer transactions than messages.
    assert 1 <= store.group_commits < count
    # Every spool() has returned: a brand-new connection must see every row and its bytes.
    with sqlite3.connect(db_path) as fresh:
        rows = dict(fresh.execute("SELECT id, raw FROM intake").fetchall())
    assert len(rows) == count
    for intake_id, raw in zip(ids, raws, strict=True):
        assert rows[intake_id] == raw


async def test_spool_round_trip_and_pending_order(store: SQLiteStore) -> None:
    first = await store.spool(
        b"Subject: a\r\n\r\n", "mailer-daemon@x.test", ["b1@bounces.test"], "10.0.0.1", NOW
    )
    second = await store.spool(b"Subject: b\r\n\r\n", "", ["b2@bounces.test", "b3@bounces.test"], "::1", NOW)
    pending = await store.pending_intake()
    assert [m.id for m in pending] == [first, second]
    assert pending[1].rcpt_tos == ("b2@bounces.test", "b3@bounces.test")
    assert pending[1].mail_from == "" and pending[1].peer == "::1"
    assert pending[0].received_at == NOW and pending[0].state is IntakeState.PENDING
    assert [m.id for m in await store.pending_intake(after_id=first)] == [second]
    assert [m.id for m in await store.pending_intake(limit=1)] == [first]

    await store.mark_intake(first, IntakeState.UNPARSEABLE, "junk", NOW)
    assert [m.id for m in await store.pending_intake()] == [second]
    marked = await store.get_intake(first)
    assert marked is not None and marked.state is IntakeState.UNPARSEABLE and marked.error == "junk"
    counts = await store.intake_counts()
    assert counts[IntakeState.PENDING] == 1 and counts[IntakeState.UNPARSEABLE] == 1
    assert counts[IntakeState.APPLIED] == 0


async def test_attempts_are_counted(store: SQLiteStore) -> None:
    intake_id = await store.spool(b"Subject: a\r\n\r\n", "", ["b@x.test"], "127.0.0.1", NOW)
    assert await store.note_intake_attempt(intake_id, "boom 1") == 1
    assert await store.note_intake_attempt(intake_id, "boom 2") == 2
    message = await store.get_intake(intake_id)
    assert message is not None and message.attempts == 2 and message.error == "boom 2"
    assert message.state is IntakeState.PENDING
    with pytest.raises(StoreError):
        await store.note_intake_attempt(intake_id + 100, "missing")
    with pytest.raises(StoreError):
        await store.mark_intake(intake_id + 100, IntakeState.APPLIED)


async def test_large_message_is_kept_byte_for_byte(store: SQLiteStore) -> None:
    raw = b"Subject: big\r\n\r\n" + bytes(range(256)) * 4096  # 1 MiB, every byte value
    intake_id = await store.spool(raw, "", ["b@x.test"], "127.0.0.1", NOW)
    message = await store.get_intake(intake_id)
    assert message is not None and message.raw == raw


async def test_spool_failure_is_a_spool_error_and_others_still_commit(store: SQLiteStore) -> None:
    # A NULL peer violates NOT NULL inside the shared transaction: that one caller gets a
    # SpoolError (answer 4xx), the others in the same batch are retried alone and commit.
    good = store.spool(b"Subject: ok\r\n\r\n", "", ["b@x.test"], "127.0.0.1", NOW)
    bad = store.spool(b"Subject: bad\r\n\r\n", "", ["b@x.test"], None, NOW)  # type: ignore[arg-type]
    also_good = store.spool(b"Subject: ok2\r\n\r\n", "", ["b@x.test"], "127.0.0.1", NOW)
    results = await asyncio.gather(good, bad, also_good, return_exceptions=True)
    assert isinstance(results[0], int) and isinstance(results[2], int)
    assert isinstance(results[1], SpoolError)
    assert [m.id for m in await store.pending_intake()] == [results[0], results[2]]
    with pytest.raises(SpoolError, match="naive"):
        await store.spool(b"Subject: x\r\n\r\n", "", ["b@x.test"], "127.0.0.1", datetime(2026, 1, 1))


async def test_spool_after_close_is_refused(store: SQLiteStore) -> None:
    await store.close()
    with pytest.raises(SpoolError):
        await store.spool(b"Subject: late\r\n\r\n", "", ["b@x.test"], "127.0.0.1", NOW)


async def test_cancelled_writer_leaves_the_store_usable(store: SQLiteStore) -> None:
    # Cancel record-keeping writes at every possible await point; each time the next write
    # must still work (no transaction left open on the shared writer connection).
    for step in range(6):
        task = asyncio.create_task(store.mark_intake(1, IntakeState.APPLIED))
        for _ in range(step):
            await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, StoreError):
            await task
        intake_id = await store.spool(b"Subject: after\r\n\r\n", "", ["b@x.test"], "127.0.0.1", NOW)
        assert (await store.get_intake(intake_id)) is not None


async def test_pending_batches_are_bounded_in_bytes(
    store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bounced.store.sqlite import intake as intake_module

    monkeypatch.setattr(intake_module, "PENDING_BATCH_BYTES", 10_000)
    big = b"Subject: big\r\n\r\n" + b"x" * 6_000
    ids = [await store.spool(big, "", ["b@x.test"], "127.0.0.1", NOW) for _ in range(5)]
    seen: list[int] = []
    after = 0
    while batch := await store.pending_intake(limit=100, after_id=after):
        assert len(batch) == 1  # two would exceed 10 000 bytes; one always comes
        seen.extend(m.id for m in batch)
        after = batch[-1].id
    assert seen == ids
