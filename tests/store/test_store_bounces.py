"""record_events: events, dedup, profiles, suppressions and the resend seam in one transaction."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bounced.model import (
    Action,
    BounceEvent,
    BounceKind,
    IntakeState,
    MessageType,
    ProfileStatus,
    Reason,
)
from bounced.store import SQLiteStore, Store
from tests.events import keyed
from tests.rawsql import count, rows
from tests.store_helpers import finish_attempt, is_suppressed, record_events

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def _event(recipient: str, kind: BounceKind, reason: Reason, **extra: object) -> BounceEvent:
    values: dict[str, object] = {
        "action": Action.FAILED,
        "status": "5.1.1" if kind is BounceKind.HARD else "4.2.2",
        "diagnostic": "550 5.1.1 <x>: Recipient address rejected: User unknown",
        "message_id": "<orig-1@sender.test>",
        "suppress": False,
    }
    values.update(extra)
    return keyed(BounceEvent(recipient=recipient, kind=kind, reason=reason, received_at=NOW, **values))  # type: ignore[arg-type]


async def _spool(store: SQLiteStore, raw: bytes = b"Subject: bounce\r\n\r\n") -> int:
    return await store.spool(raw, "", ["b@bounces.test"], "127.0.0.1", NOW)


async def _resend_state(store: Store, event_id: int) -> str | None:
    [(state,)] = await rows(store, "SELECT resend_state FROM bounce_events WHERE id = ?", event_id)
    return state  # type: ignore[no-any-return]


async def test_hard_suppressing_event_marks_profile_and_suppresses(store: SQLiteStore) -> None:
    store.fold_local_case = False  # [policy] local_part_case = "sensitive"
    intake_id = await _spool(store)
    hard = _event(
        "Alice@Example.ORG", BounceKind.HARD, Reason.USERUNKNOWN, suppress=True, intake_id=intake_id
    )
    ids = await record_events(store, intake_id, [hard], NOW, MessageType.DSN)
    assert len(ids) == 1

    assert await store.get_profile("alice@example.org") is None  # local part is case-sensitive
    profile = await store.get_profile("Alice@EXAMPLE.org")
    assert profile is not None
    assert profile.address == "Alice@example.org"  # local part as sent, domain lower-cased
    assert profile.status is ProfileStatus.HARD_BOUNCED and profile.status.label == "Hard bounced"
    assert (profile.bounce_count, profile.hard_bounce_count, profile.soft_bounce_count) == (1, 1, 0)
    assert profile.last_bounce_reason == "userunknown" and profile.last_bounce_at == NOW

    entry = await store.get_suppression("Alice@EXAMPLE.org")
    assert entry is not None
    assert (entry.reason, entry.created_by, entry.bounce_event_id) == ("userunknown", "bounce", ids[0])
    assert await is_suppressed(store, "Alice@example.Org")
    assert not await is_suppressed(store, "alice@example.org")  # local part is case-sensitive
    intake = await store.get_intake(intake_id)
    assert intake is not None and intake.state is IntakeState.APPLIED

    events = await store.events_for("Alice@example.org")
    assert [e.id for e in events] == ids
    assert events[0].recipient_domain == "example.org" and events[0].kind is BounceKind.HARD
    audit = await store.audit_entries("Alice@example.org")
    assert [(a.action, a.actor) for a in audit] == [("suppression.add", "bounce")]


async def test_same_bounce_twice_counts_once(store: SQLiteStore) -> None:
    hard = _event("bob@example.org", BounceKind.HARD, Reason.USERUNKNOWN, suppress=True)
    first = await store.record_events_outcome(await _spool(store), [hard], NOW)
    second = await store.record_events_outcome(await _spool(store), [replace(hard, received_at=NOW)], NOW)
    assert first.event_ids[0] is not None and first.suppressed == ("bob@example.org",)
    assert second.event_ids == (None,) and second.suppressed == ()
    profile = await store.get_profile("bob@example.org")
    assert profile is not None and profile.bounce_count == 1
    assert len(await store.events_for("bob@example.org")) == 1
    # A different status for the same message is a different event.
    later = replace(hard, status="5.2.1", reason=Reason.SUSPEND)
    assert len(await record_events(store, await _spool(store), [later], NOW)) == 1


async def test_without_message_id_the_raw_bounce_hash_dedups(store: SQLiteStore) -> None:
    soft = _event("carol@example.org", BounceKind.SOFT, Reason.MAILBOXFULL, message_id=None)
    raw = b"Subject: Delivery delayed\r\n\r\nsame bytes\r\n"
    assert len(await record_events(store, await _spool(store, raw), [soft], NOW)) == 1
    assert await record_events(store, await _spool(store, raw), [soft], NOW) == []
    other = b"Subject: Delivery delayed\r\n\r\nother bytes\r\n"
    assert len(await record_events(store, await _spool(store, other), [soft], NOW)) == 1


async def test_soft_event_is_not_suppressed_and_pending_for_resend(store: Store) -> None:
    with_delivery = _event("dan@example.org", BounceKind.SOFT, Reason.MAILBOXFULL, delivery_id=41)
    without = _event("erin@example.org", BounceKind.SOFT, Reason.MAILBOXFULL)
    ids = await record_events(store, await _spool(store), [with_delivery, without], NOW)
    assert await _resend_state(store, ids[0]) == "pending"
    assert await _resend_state(store, ids[1]) is None
    assert not await is_suppressed(store, "dan@example.org")
    profile = await store.get_profile("dan@example.org")
    assert profile is not None and profile.status is ProfileStatus.ACTIVE
    assert (profile.bounce_count, profile.soft_bounce_count, profile.hard_bounce_count) == (1, 1, 0)


async def test_soft_event_asking_to_suppress_still_does_not(store: SQLiteStore) -> None:
    soft = _event("fay@example.org", BounceKind.SOFT, Reason.MAILBOXFULL, suppress=True)
    await record_events(store, await _spool(store), [soft], NOW)
    assert not await is_suppressed(store, "fay@example.org")


async def test_blocked_event_never_suppresses(store: SQLiteStore) -> None:
    blocked = _event("gus@example.org", BounceKind.BLOCKED, Reason.BLOCKED, status="5.7.1", suppress=False)
    await record_events(store, await _spool(store), [blocked], NOW)
    assert await store.get_suppression("gus@example.org") is None
    profile = await store.get_profile("gus@example.org")
    assert profile is not None and profile.status is ProfileStatus.ACTIVE and profile.hard_bounce_count == 0


async def test_complaint_suppresses_with_reason_complaint(store: SQLiteStore) -> None:
    complaint = _event(
        "hal@example.org", BounceKind.COMPLAINT, Reason.FEEDBACK, status=None, action=None, suppress=True
    )
    outcome = await store.record_events_outcome(await _spool(store), [complaint], NOW, MessageType.ARF)
    entry = await store.get_suppression("hal@example.org")
    assert entry is not None and (entry.reason, entry.created_by) == ("complaint", "complaint")
    assert entry.bounce_event_id == outcome.event_ids[0]
    profile = await store.get_profile("hal@example.org")
    assert profile is not None and profile.status is ProfileStatus.ACTIVE and profile.bounce_count == 0


async def test_unsigned_hard_event_under_record_policy_is_only_recorded(store: SQLiteStore) -> None:
    hard = _event("ivy@example.org", BounceKind.HARD, Reason.USERUNKNOWN, suppress=False)
    await record_events(store, await _spool(store), [hard], NOW)
    assert not await is_suppressed(store, "ivy@example.org")
    profile = await store.get_profile("ivy@example.org")
    assert profile is not None and profile.status is ProfileStatus.ACTIVE and profile.hard_bounce_count == 1


async def test_autoreply_touches_no_profile(store: SQLiteStore) -> None:
    auto = _event("jo@example.org", BounceKind.AUTOREPLY, Reason.VACATION, status=None)
    assert len(await record_events(store, await _spool(store), [auto], NOW)) == 1
    assert await store.get_profile("jo@example.org") is None
    assert not await is_suppressed(store, "jo@example.org")


async def test_local_parts_fold_by_default(store: SQLiteStore) -> None:
    intake_id = await _spool(store)
    hard = _event(
        "Alice@Example.ORG", BounceKind.HARD, Reason.USERUNKNOWN, suppress=True, intake_id=intake_id
    )
    soft = _event("ALICE@example.org", BounceKind.SOFT, Reason.MAILBOXFULL, message_id="<m9@s>")
    await record_events(store, intake_id, [hard, soft], NOW, MessageType.DSN)
    profile = await store.get_profile("alice@EXAMPLE.org")
    assert profile is not None and profile.address == "alice@example.org"
    assert (profile.bounce_count, profile.hard_bounce_count, profile.soft_bounce_count) == (2, 1, 1)
    assert await is_suppressed(store, "ALICE@EXAMPLE.ORG") and await is_suppressed(store, "alice@example.org")
    assert [e.recipient for e in await store.events_for("aLiCe@example.org")] == ["alice@example.org"] * 2


async def test_profile_keeps_latest_bounce_and_hard_status_sticks(store: SQLiteStore) -> None:
    store.fold_local_case = False  # [policy] local_part_case = "sensitive"
    hard = _event("kim@example.org", BounceKind.HARD, Reason.USERUNKNOWN, suppress=True, message_id="<m1@s>")
    older_soft = _event(
        "KIM@example.org", BounceKind.SOFT, Reason.MAILBOXFULL, message_id="<m0@s>"
    )  # different local-part case: a different address
    soft = replace(
        _event("kim@EXAMPLE.org", BounceKind.SOFT, Reason.MAILBOXFULL, message_id="<m2@s>"),
        received_at=NOW - timedelta(days=1),
    )
    await record_events(store, await _spool(store), [hard, older_soft, soft], NOW)
    profile = await store.get_profile("kim@example.org")
    assert profile is not None
    assert profile.status is ProfileStatus.HARD_BOUNCED  # a later soft bounce does not clear it
    assert (profile.bounce_count, profile.hard_bounce_count, profile.soft_bounce_count) == (2, 1, 1)
    assert profile.last_bounce_reason == "userunknown" and profile.last_bounce_at == NOW
    other = await store.get_profile("KIM@example.org")
    assert other is not None and other.bounce_count == 1


async def test_one_transaction_nothing_written_when_an_event_fails(store: SQLiteStore) -> None:
    intake_id = await _spool(store)
    good = _event("lee@example.org", BounceKind.HARD, Reason.USERUNKNOWN, suppress=True)
    bad = replace(good, recipient="mo@example.org", received_at=datetime(2026, 1, 1))  # naive: refused
    try:
        await record_events(store, intake_id, [good, bad], NOW)
    except Exception as exc:
        assert "naive" in str(exc)
    else:
        raise AssertionError("a naive datetime must be refused")
    assert await store.events_for("lee@example.org") == []
    assert not await is_suppressed(store, "lee@example.org")
    intake = await store.get_intake(intake_id)
    assert intake is not None and intake.state is IntakeState.PENDING


async def test_synchronous_event_without_intake(store: SQLiteStore) -> None:
    sync = _event(
        "nia@example.org",
        BounceKind.HARD,
        Reason.USERUNKNOWN,
        suppress=True,
        source="smtp",
        delivery_id=7,
        message_id=None,
    )
    ids = await record_events(store, None, [sync], NOW)
    events = await store.events_for("nia@example.org")
    assert [e.id for e in events] == ids and events[0].source == "smtp" and events[0].intake_id is None
    assert await is_suppressed(store, "nia@example.org")


async def test_dedup_is_per_bounce_message(store: SQLiteStore) -> None:
    soft = _event("ola@example.org", BounceKind.SOFT, Reason.MAILBOXFULL)
    first = await record_events(store, await _spool(store), [soft], NOW, bounce_id="<dsn-1@mx>")
    again = await record_events(
        store, await _spool(store, b"Subject: other bytes\r\n\r\n"), [soft], NOW, bounce_id="<dsn-1@mx>"
    )
    resend = await record_events(store, await _spool(store), [soft], NOW, bounce_id="<dsn-2@mx>")
    assert len(first) == 1 and again == [] and len(resend) == 1


async def test_synchronous_events_are_never_merged(store: SQLiteStore) -> None:
    sync = _event("pia@example.org", BounceKind.SOFT, Reason.MAILBOXFULL, source="smtp", delivery_id=3)
    assert len(await record_events(store, None, [sync], NOW)) == 1
    assert len(await record_events(store, None, [sync], NOW)) == 1  # the resend was refused again
    profile = await store.get_profile("pia@example.org")
    assert profile is not None and profile.soft_bounce_count == 2


async def test_store_errors_are_store_errors(store: SQLiteStore) -> None:
    import pytest

    from bounced.errors import StoreError

    event = _event("rae@example.org", BounceKind.HARD, Reason.USERUNKNOWN, suppress=True)
    with pytest.raises(StoreError, match=r"(?i)foreign key"):
        await record_events(store, 999, [replace(event, intake_id=999)], NOW)  # no such intake
    assert await store.events_for("rae@example.org") == []
    assert len(await record_events(store, None, [event], NOW)) == 1  # the writer is still usable


async def test_the_text_key_given_with_the_event_is_stored_and_one_is_required(store: Store) -> None:
    # the key is computed where the failure was classified; the store never computes one
    soft = _event("ola@example.org", BounceKind.SOFT, Reason.MAILBOXFULL)
    given = replace(soft, text_key="452 precomputed")
    await record_events(store, None, [given], NOW)
    keys = dict(await rows(store, "SELECT recipient, text_key FROM bounce_events"))
    assert keys == {"ola@example.org": "452 precomputed"}
    assert given == replace(given, text_key=None)  # not part of the event's identity
    unkeyed = replace(_event("per@example.org", BounceKind.SOFT, Reason.MAILBOXFULL), text_key=None)
    with pytest.raises(ValueError, match="has no text_key"):
        await record_events(store, None, [unkeyed], NOW)
    assert await count(store, "bounce_events") == 1


async def test_signed_hard_bounce_closes_our_delivery_and_cancels_its_resend(store: Store) -> None:
    from bounced.model import DeliveryState, ResendState

    _, [sent, waiting] = await store.record_outbound(
        b"Subject: hi\r\n\r\nbody\r\n",
        "news@shop.test",
        [("ann@example.org", None), ("bob@example.org", None)],
        NOW,
    )
    claimed = await store.claim_attempts(NOW, NOW + timedelta(minutes=5), 10)
    for attempt in claimed:
        state = DeliveryState.DELIVERED if attempt.delivery_id == sent else DeliveryState.SOFT_BOUNCED
        await finish_attempt(store, attempt.job_id, attempt.delivery_id, state, NOW)
    assert await store.schedule_resend(waiting, 2, NOW + timedelta(hours=1), NOW, "452 try later")

    def hard(recipient: str, delivery_id: int, signed: bool) -> BounceEvent:
        return _event(recipient, BounceKind.HARD, Reason.USERUNKNOWN, delivery_id=delivery_id, signed=signed)

    await record_events(store, None, [hard("ann@example.org", sent, signed=False)], NOW)  # could be forged
    delivery = await store.get_delivery(sent)
    assert delivery is not None and delivery.state is DeliveryState.DELIVERED
    await record_events(
        store,
        None,
        [hard("ann@example.org", sent, signed=True), hard("bob@example.org", waiting, signed=True)],
        NOW,
    )
    for delivery_id in (sent, waiting):
        delivery = await store.get_delivery(delivery_id)
        assert delivery is not None and delivery.state is DeliveryState.HARD_BOUNCED
        assert delivery.last_bounce_text == "550 5.1.1 <x>: Recipient address rejected: User unknown"
    jobs = await store.jobs_for_delivery(waiting)
    assert [j.state for j in jobs if j.attempt == 2] == [ResendState.CANCELLED]
