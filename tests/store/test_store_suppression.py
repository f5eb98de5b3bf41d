"""Admin suppression: add/remove with audit rows, listing, profile reset on removal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bounced.model import BounceEvent, BounceKind, ProfileStatus, Reason
from bounced.store import SQLiteStore
from tests.events import keyed
from tests.store_helpers import record_events

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


async def test_add_then_remove_is_audited(store: SQLiteStore) -> None:
    assert await store.add_suppression("Pat@Example.COM", "asked by phone", "alice", NOW)
    assert not await store.add_suppression("pat@example.com".replace("pat", "Pat"), "again", "alice", NOW)
    entry = await store.get_suppression("Pat@example.com")
    assert entry is not None and entry.created_by == "admin:alice" and entry.reason == "asked by phone"

    later = NOW + timedelta(hours=1)
    assert await store.remove_suppression("Pat@EXAMPLE.com", "customer re-subscribed", "bob", later)
    assert not await store.remove_suppression("Pat@example.com", "twice", "bob", later)
    assert await store.get_suppression("Pat@example.com") is None

    audit = await store.audit_entries("Pat@example.com")
    assert [(a.action, a.actor, a.reason, a.at) for a in audit] == [
        ("suppression.add", "alice", "asked by phone", NOW),
        ("suppression.remove", "bob", "customer re-subscribed", later),
    ]
    assert len(await store.audit_entries()) == 2


async def test_removal_sets_hard_bounced_profile_back_to_active(store: SQLiteStore) -> None:
    event = keyed(
        BounceEvent(
            recipient="quinn@example.net",
            kind=BounceKind.HARD,
            reason=Reason.USERUNKNOWN,
            received_at=NOW,
            status="5.1.1",
            message_id="<a@b>",
            suppress=True,
        )
    )
    await record_events(store, None, [event], NOW)
    profile = await store.get_profile("quinn@example.net")
    assert profile is not None and profile.status is ProfileStatus.HARD_BOUNCED
    assert await store.remove_suppression("quinn@EXAMPLE.net", "mailbox fixed", "root", NOW)
    profile = await store.get_profile("quinn@example.net")
    assert profile is not None and profile.status is ProfileStatus.ACTIVE
    assert profile.hard_bounce_count == 1  # history is kept


async def test_list_and_lookup_many(store: SQLiteStore) -> None:
    for i in range(5):
        await store.add_suppression(f"u{i}@example.com", "test", "alice", NOW + timedelta(seconds=i))
    listed = await store.list_suppressions(limit=3, offset=1)
    assert [e.address for e in listed] == ["u1@example.com", "u2@example.com", "u3@example.com"]
    assert await store.count_suppressions() == 5
    found = await store.suppressed_among(["u0@EXAMPLE.com", "nobody@example.com", "u4@example.com"])
    assert found == {"u0@EXAMPLE.com", "u4@example.com"}  # as given
    assert await store.get_profile("u0@example.com") is None  # admin suppression makes no profile
