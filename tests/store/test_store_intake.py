"""The intake spool: group commit, durability, pending/mark, retention of raw bytes."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bounced.errors import SpoolError, StoreError
from bounced.model import Action, BounceEvent, BounceKind, IntakeMessage, IntakeState, Reason
from bounced.store import SQLiteStore, Store
from tests.events import keyed
from tests.rawsql import rows
from tests.store_helpers import intake_counts, record_events

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.mark.sqlite_only  # group commit: the SQLite writer's
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
    counts = await intake_counts(store)
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

    monkeypatch.setattr(intake_module, "PENDING_BATCH_BYTES", 10_000)  # both backends read it
    big = b"Subject: big\r\n\r\n" + b"x" * 6_000
    ids = [await store.spool(big, "", ["b@x.test"], "127.0.0.1", NOW) for _ in range(5)]
    seen: list[int] = []
    after = 0
    while batch := await store.pending_intake(limit=100, after_id=after):
        assert len(batch) == 1  # two would exceed 10 000 bytes; one always comes
        seen.extend(m.id for m in batch)
        after = batch[-1].id
    assert seen == ids


# --- retention: prune_intake_raw / intake_stats -------------------------------------------

DAY = timedelta(days=1)


async def _intake(store: SQLiteStore, state: IntakeState, age_days: float, body: str = "x") -> int:
    """An intake message received `age_days` before NOW, then put in `state`."""
    raw = f"Subject: bounce\r\n\r\n{body}\r\n".encode()
    intake_id = await store.spool(raw, "", ["b@bounces.test"], "127.0.0.1", NOW - age_days * DAY)
    if state is not IntakeState.PENDING:
        await store.mark_intake(intake_id, state, None, NOW)
    return intake_id


async def _raw_and_hash(store: Store) -> dict[int, tuple[bytes, str, int | None]]:
    found = await rows(store, "SELECT id, raw, sha256, raw_pruned_at FROM intake")
    return {int(r[0]): (bytes(r[1]), str(r[2]), r[3]) for r in found}


async def test_prune_drops_only_old_applied_raw_bytes_and_keeps_the_row(
    store: SQLiteStore, db_path: Path
) -> None:
    old_applied = [await _intake(store, IntakeState.APPLIED, 40, f"old {i}") for i in range(2)]
    at_cutoff = await _intake(store, IntakeState.APPLIED, 30)  # not *before* the cutoff: kept
    young = await _intake(store, IntakeState.APPLIED, 29)
    kept_for_humans = [
        await _intake(store, IntakeState.PENDING, 90),
        await _intake(store, IntakeState.FAILED, 90),
        await _intake(store, IntakeState.UNPARSEABLE, 90),
    ]
    before = await _raw_and_hash(store)
    pruned_at = NOW + timedelta(seconds=5)

    assert await store.prune_intake_raw(NOW - 30 * DAY, 100, pruned_at) == 2

    after = await _raw_and_hash(store)
    for intake_id in old_applied:
        message = await store.get_intake(intake_id)
        assert message is not None and message.raw == b"" and message.raw_pruned_at == pruned_at
        assert message.state is IntakeState.APPLIED and message.rcpt_tos == ("b@bounces.test",)
        assert message.received_at == NOW - 40 * DAY
        assert after[intake_id][1] == before[intake_id][1]  # sha256 kept: dedup still works
    for intake_id in [at_cutoff, young, *kept_for_humans]:
        message = await store.get_intake(intake_id)
        assert message is not None and message.raw_pruned_at is None
        assert message.raw == before[intake_id][0] != b""


async def test_prune_goes_in_bounded_batches_oldest_first_and_is_idempotent(
    store: SQLiteStore, db_path: Path
) -> None:
    ids = [await _intake(store, IntakeState.APPLIED, 60 - i, f"m{i}") for i in range(7)]
    cutoff = NOW - 30 * DAY
    first = NOW + timedelta(hours=1)
    assert await store.prune_intake_raw(cutoff, 3, first) == 3
    assert {i for i, row in (await _raw_and_hash(store)).items() if row[2] is not None} == set(ids[:3])
    assert await store.prune_intake_raw(cutoff, 3, first) == 3
    assert await store.prune_intake_raw(cutoff, 3, first) == 1
    assert await store.prune_intake_raw(cutoff, 3, NOW + DAY) == 0  # again: nothing left
    assert await store.prune_intake_raw(cutoff, 0, NOW + DAY) == 0
    stamps = {row[2] for row in (await _raw_and_hash(store)).values()}
    assert stamps == {int(first.timestamp() * 1_000_000)}  # a re-run did not touch them


async def test_pruned_message_cannot_be_sent_back_to_pending(store: SQLiteStore) -> None:
    intake_id = await _intake(store, IntakeState.APPLIED, 40)
    kept = await _intake(store, IntakeState.APPLIED, 1)
    assert await store.prune_intake_raw(NOW - 30 * DAY, 10, NOW) == 1
    with pytest.raises(StoreError, match="pruned"):
        await store.mark_intake(intake_id, IntakeState.PENDING)
    assert await store.pending_intake() == []
    await store.mark_intake(kept, IntakeState.PENDING)  # bytes still there: allowed
    assert [m.id for m in await store.pending_intake()] == [kept]
    with pytest.raises(StoreError, match="no intake message"):
        await store.mark_intake(kept + 100, IntakeState.PENDING)


async def test_stats_count_states_kept_bytes_and_pruned(store: SQLiteStore) -> None:
    empty = await store.intake_stats()
    assert empty.counts == dict.fromkeys(IntakeState, 0) and empty.raw_bytes == 0 and empty.pruned == 0
    old = await _intake(store, IntakeState.APPLIED, 40, "a" * 100)
    young = await _intake(store, IntakeState.APPLIED, 1, "b" * 200)
    failed = await _intake(store, IntakeState.FAILED, 40, "c" * 300)
    sizes = {}
    for intake_id in (old, young, failed):
        message = await store.get_intake(intake_id)
        assert message is not None
        sizes[intake_id] = len(message.raw)
    stats = await store.intake_stats()
    assert stats.raw_bytes == sum(sizes.values()) and stats.pruned == 0
    called_at = datetime.now(UTC)
    assert await store.prune_intake_raw(NOW - 30 * DAY, 10) == 1  # no `now`: the wall clock
    pruned = await store.get_intake(old)
    assert pruned is not None and pruned.raw_pruned_at is not None and pruned.raw_pruned_at >= called_at
    stats = await store.intake_stats()
    assert stats.counts[IntakeState.APPLIED] == 2 and stats.counts[IntakeState.FAILED] == 1
    assert stats.raw_bytes == sizes[young] + sizes[failed] and stats.pruned == 1


async def test_a_resent_copy_of_a_pruned_bounce_is_still_a_duplicate(store: SQLiteStore) -> None:
    # Without its own Message-ID a bounce is recognised by the intake's hash, which pruning keeps.
    raw = b"Subject: Delivery delayed\r\n\r\nsame bytes\r\n"
    event = keyed(
        BounceEvent(
            recipient="carol@example.org",
            kind=BounceKind.SOFT,
            reason=Reason.MAILBOXFULL,
            received_at=NOW - 40 * DAY,
            action=Action.DELAYED,
            status="4.2.2",
        )
    )
    first = await store.spool(raw, "", ["b@bounces.test"], "127.0.0.1", NOW - 40 * DAY)
    assert len(await record_events(store, first, [event], NOW - 40 * DAY)) == 1
    assert await store.prune_intake_raw(NOW - 30 * DAY, 10, NOW) == 1
    again = await store.spool(raw, "", ["b@bounces.test"], "127.0.0.1", NOW)
    assert await record_events(store, again, [event], NOW) == []


async def test_adopting_a_node_spool_is_idempotent_per_node_and_local_id(store: Store) -> None:
    """A central store takes a node's spooled messages once each (moved again after a crash:
    nothing added), keeps nodes apart, and tells the central id and state per local id."""
    spool = [
        IntakeMessage(
            id=i, received_at=NOW, mail_from="", rcpt_tos=("b@x.test",), peer="192.0.2.1",
            raw=f"Subject: {i}\r\n\r\n".encode(), state=IntakeState.PENDING,
        )
        for i in (3, 4, 5)
    ]  # fmt: skip
    direct = await store.spool(b"Subject: direct\r\n\r\n", "", ["b@x.test"], "127.0.0.1", NOW)
    first = await store.adopt_intake("mx1", spool[:2])
    assert set(first) == {3, 4} and direct not in {c for c, _ in first.values()}
    await store.mark_intake(first[3][0], IntakeState.APPLIED, None, NOW)
    again = await store.adopt_intake("mx1", spool)
    assert again[3] == (first[3][0], IntakeState.APPLIED) and again[4] == first[4]
    assert again[5][1] is IntakeState.PENDING
    other = await store.adopt_intake("mx2", spool[:1])
    assert other[3][0] not in {c for c, _ in again.values()}
    assert (await intake_counts(store))[IntakeState.PENDING] == 4  # direct, 4, 5, mx2's 3
    adopted = await store.get_intake(again[5][0])
    assert adopted is not None and adopted.raw == spool[2].raw and adopted.rcpt_tos == ("b@x.test",)
    assert await store.adopt_intake("mx1", []) == {}
