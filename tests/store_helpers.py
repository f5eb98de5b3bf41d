"""Store reads and writes only tests and benchmarks use: built on the store protocols (or, for
what no protocol offers, on the store's own tables through tests/rawsql.py, SQLite or
PostgreSQL), so no backend has to implement them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime

from bounced.model import (
    BounceEvent,
    Delivery,
    DeliveryState,
    IntakeState,
    MessageType,
    ReportGrouping,
    SoftBounceGroup,
)
from bounced.store.base import (
    BounceStore,
    IntakeRecording,
    IntakeStore,
    OutboxStore,
    ReportStore,
    ResendTiming,
    Store,
    SuppressionStore,
)
from bounced.store.timecodec import from_micros
from tests import rawsql

__all__ = [
    "deliveries_for",
    "finish_attempt",
    "guard_trip_count",
    "intake_counts",
    "is_suppressed",
    "record_events",
    "refusal_counts",
    "resend_timings",
    "soft_bounce_groups",
]


async def record_events(
    store: BounceStore,
    intake_id: int | None,
    events: Sequence[BounceEvent],
    now: datetime,
    message_type: MessageType | None = None,
    bounce_id: str | None = None,
) -> list[int]:
    """`record_batch` for one intake message; the ids of the new events (duplicates skipped)."""
    recording = IntakeRecording(intake_id, tuple(events), message_type=message_type, bounce_id=bounce_id)
    [outcome] = await store.record_batch([recording], now)
    return [i for i in outcome.event_ids if i is not None]


async def is_suppressed(store: SuppressionStore, address: str) -> bool:
    return bool(await store.suppressed_among([address]))


async def intake_counts(store: IntakeStore) -> dict[IntakeState, int]:
    """Intake messages per state (every state present)."""
    return (await store.intake_stats()).counts


async def finish_attempt(
    store: OutboxStore,
    job_id: int,
    delivery_id: int,
    state: DeliveryState,
    now: datetime,
    bounce_text: str | None = None,
) -> None:
    await store.finish_attempts([(job_id, delivery_id, state, now, bounce_text)])


async def soft_bounce_groups(
    store: ReportStore,
    start: datetime,
    end: datetime,
    group_by: ReportGrouping = ReportGrouping.FROM_DOMAIN,
    mailing_id: str | None = None,
) -> AsyncIterator[SoftBounceGroup]:
    """`soft_bounce_group_batches`, one group at a time."""
    async for batch in store.soft_bounce_group_batches(start, end, group_by, mailing_id):
        for group in batch:
            yield group


async def deliveries_for(store: Store, message_id: int) -> list[Delivery]:
    ids = await rawsql.rows(store, "SELECT id FROM deliveries WHERE message_id = ? ORDER BY id", message_id)
    found = [await store.get_delivery(int(r[0])) for r in ids]
    return [d for d in found if d is not None]


async def refusal_counts(store: Store) -> dict[str, int]:
    found = await rawsql.rows(store, "SELECT address, count FROM submission_refusals ORDER BY address")
    return {r[0]: int(r[1]) for r in found}


async def guard_trip_count(store: Store) -> int:
    """How many times the guard has tripped."""
    return await rawsql.count(store, "guard_trips")


async def resend_timings(store: Store, since_id: int = 0) -> list[ResendTiming]:
    """Planned, picked-up and finished times of finished queue rows (benchmarks/resend.py)."""
    found = await rawsql.rows(
        store,
        "SELECT id, due_at, started_at, finished_at FROM resend_jobs"
        " WHERE id > ? AND finished_at IS NOT NULL ORDER BY id",
        since_id,
    )
    return [ResendTiming(int(r[0]), from_micros(r[1]), from_micros(r[2]), from_micros(r[3])) for r in found]
