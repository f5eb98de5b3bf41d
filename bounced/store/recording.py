"""Recording bounce events, the part every backend shares: the rows and their consequences.

`record_batch` (store/sqlite/bounces.py, store/postgres/bounces.py) turns events into
`bounce_events` rows (`event_row`), learns which were new (`match_inserted`), and then
writes what the new ones imply, decided here once (`plan_consequences`): profile updates,
complaint profiles, suppressions, quarantine entries and deliveries closed by a signed hard
bounce. The stores only hold the SQL. Pure: values in, values out.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bounced.errors import StoreError
from bounced.model import (
    Action,
    BounceEvent,
    BounceKind,
    MessageType,
    ProfileStatus,
    Reason,
    ResendState,
)
from bounced.store.base import IntakeRecording, RecordOutcome
from bounced.store.rules import webhook_rows_for_bounces
from bounced.store.timecodec import from_micros, to_micros

__all__ = [
    "EVENT_COLUMNS",
    "INSERT_COLUMNS",
    "MARK_INTAKE",
    "BatchPlan",
    "Consequences",
    "EventRow",
    "Planned",
    "RecordingFront",
    "dedup_key",
    "event_row",
    "event_rows",
    "match_inserted",
    "outbox_rows",
    "outcomes",
    "plan_batch",
    "plan_consequences",
    "row_to_event",
    "suppression_audit",
    "text_key_of",
]

# What `row_to_event` reads, in this order.
EVENT_COLUMNS = (
    "id, received_at, recipient, kind, reason, action, status, reply_code, diagnostic, remote_mta,"
    " retry_after, mailing_id, from_domain, sending_ip, message_id, intake_id, delivery_id, signed, source,"
    " rule"
)
# The columns of `EventRow.params`, in this order.
INSERT_COLUMNS = (
    "received_at, recipient, recipient_domain, kind, reason, action, status, reply_code, diagnostic,"
    " text_key, remote_mta, retry_after, mailing_id, from_domain, sending_ip, message_id, intake_id,"
    " delivery_id, signed, source, dedup_key, resend_state, rule"
)
_BOUNCING = (BounceKind.HARD, BounceKind.SOFT, BounceKind.BLOCKED)
_SUPPRESSING = (BounceKind.HARD, BounceKind.COMPLAINT)
_RESENT = (BounceKind.SOFT, BounceKind.OUR_SIDE)

Planned = tuple[int, BounceEvent, str]  # (index of the batch item, event, its text key)


def text_key_of(event: BounceEvent) -> str:
    # The key is computed where the failure was classified (the worker with the analysis,
    # the sender for the next hop's replies); the store only persists it and never
    # normalises texts itself.
    if event.text_key is None:
        raise ValueError(f"bounce event for {event.recipient!r} has no text_key (set where classified)")
    return event.text_key


def dedup_key(event: BounceEvent, recipient: str, bounce_identity: str | None) -> str | None:
    """The same bounce message received twice, about the same recipient and status.

    `bounce_identity` names the bounce message itself: its own Message-ID, else the hash of
    its raw bytes. A retransmitted bounce repeats it; the bounce of a resend (same original
    Message-ID, new bounce message) does not, so each resend's bounce counts. Events with no
    bounce message (the next hop's synchronous reply) have no identity and are never merged.
    """
    if not bounce_identity:
        return None
    status = event.status or f"{event.kind.value}:{event.reason.value}"
    material = "\x00".join((bounce_identity, event.message_id or "", recipient, status))
    return hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class EventRow:
    recipient: str  # normalised
    received_us: int
    dedup_key: str | None
    params: tuple[Any, ...]  # INSERT_COLUMNS


def event_row(event: BounceEvent, text_key: str, identity: str | None, recipient: str) -> EventRow:
    received_us = to_micros(event.received_at)
    key = dedup_key(event, recipient, identity)
    resend = ResendState.PENDING.value if event.kind in _RESENT and event.delivery_id else None
    params = (
        received_us,
        recipient,
        recipient.rpartition("@")[2],
        event.kind.value,
        event.reason.value,
        None if event.action is None else event.action.value,
        event.status,
        event.reply_code,
        event.diagnostic,
        text_key,
        event.remote_mta,
        event.retry_after,
        event.mailing_id,
        event.from_domain,
        event.sending_ip,
        event.message_id,
        event.intake_id,
        event.delivery_id,
        int(event.signed),
        event.source,
        key,
        resend,
        event.rule,
    )
    return EventRow(recipient, received_us, key, params)


# Marking an intake message recorded; parameters: `BatchPlan.marks` rows.
MARK_INTAKE = (
    "UPDATE intake SET state = ?2, error = ?3, processed_at = ?4,"
    " message_type = COALESCE(?5, message_type) WHERE id = ?1"
)


@dataclass(frozen=True, slots=True)
class BatchPlan:
    planned: list[Planned]  # every event of the batch, in order
    marks: list[tuple[Any, ...]]  # MARK_INTAKE parameters, by intake id (one lock order)


def plan_batch(items: Sequence[IntakeRecording], now_us: int) -> BatchPlan:
    planned = [
        (index, event, text_key_of(event)) for index, item in enumerate(items) for event in item.events
    ]
    marks = sorted(
        (
            (
                item.intake_id,
                item.state.value,
                item.error,
                now_us,
                None if item.message_type is None else item.message_type.value,
            )
            for item in items
            if item.intake_id is not None
        ),
        key=lambda mark: mark[0],
    )
    return BatchPlan(planned, marks)


def event_rows(
    planned: Sequence[Planned], identities: Sequence[str | None], address: Callable[[str], str]
) -> list[EventRow]:
    """The rows of the batch's events; `identities` per item, `address` the normal form."""
    return [
        event_row(event, key, identities[index], address(event.recipient)) for index, event, key in planned
    ]


def outbox_rows(
    planned: Sequence[Planned],
    rows: Sequence[EventRow],
    event_ids: Sequence[int | None],
    suppressed: set[int],
    now_us: int,
) -> list[tuple[Any, ...]]:
    """Webhook outbox rows for the events just recorded (store/rules.py decides which)."""
    recorded = [(e, r.recipient, i) for (_, e, _), r, i in zip(planned, rows, event_ids, strict=True)]
    return webhook_rows_for_bounces(recorded, suppressed, now_us)


def match_inserted(rows: Sequence[EventRow], inserted: Sequence[tuple[int, str | None]]) -> list[int | None]:
    """Each row's new id, or None for a duplicate (same dedup_key in the table or earlier in
    the batch), from the (id, dedup_key) pairs the insert made. Rows without a key are never
    duplicates: their ids were assigned in row order, so sorted they line up."""
    by_key: dict[str, int] = {}
    keyless: deque[int] = deque()
    for event_id, key in sorted(inserted, key=lambda pair: pair[0]):
        if key is None:
            keyless.append(int(event_id))
        else:
            by_key[key] = int(event_id)
    ids: list[int | None] = []
    for row in rows:
        if row.dedup_key is None:
            ids.append(keyless.popleft() if keyless else None)
        else:
            ids.append(by_key.pop(row.dedup_key, None))  # a second copy in the batch: None
    if keyless or by_key:
        raise StoreError("bounce_events: the rows inserted do not match the batch")
    return ids


@dataclass(slots=True)
class Consequences:
    """What newly recorded events imply; each list holds statement parameters in event order."""

    # (address, status, soft 0/1, hard 0/1, last_bounce_at, last_bounce_reason, created_at, updated_at)
    profiles: list[tuple[Any, ...]] = field(default_factory=list)
    complaints: list[tuple[Any, ...]] = field(default_factory=list)  # (address, created_at, updated_at)
    # (address, reason, created_at, created_by, bounce_event_id)
    suppressions: list[tuple[Any, ...]] = field(default_factory=list)
    # (last_bounce_text, finished_at, delivery_id): deliveries a signed hard bounce closes
    hard_deliveries: list[tuple[Any, ...]] = field(default_factory=list)
    # (address, bounce_event_id, reason, recipient_domain, sending_ip, text_key, created_at)
    quarantines: list[tuple[Any, ...]] = field(default_factory=list)


def plan_consequences(
    planned: Sequence[Planned], rows: Sequence[EventRow], event_ids: Sequence[int | None], now_us: int
) -> Consequences:
    """Profiles, suppressions, quarantine entries and closed deliveries for the new events
    (duplicates, id None, imply nothing)."""
    out = Consequences()
    for (_, event, text_key), row, event_id in zip(planned, rows, event_ids, strict=True):
        if event_id is None:
            continue
        if event.quarantine:
            domain = row.recipient.rpartition("@")[2]
            out.quarantines.append(
                (row.recipient, event_id, event.reason.value, domain, event.sending_ip, text_key, now_us)
            )
        if event.kind is BounceKind.HARD and event.signed and event.delivery_id is not None:
            # Only signed: an unsigned hard bounce could be forged to stop our mail.
            out.hard_deliveries.append((event.diagnostic or event.reason.value, now_us, event.delivery_id))
        if event.kind in _BOUNCING:
            hard_suppress = event.kind is BounceKind.HARD and event.suppress
            status = ProfileStatus.HARD_BOUNCED if hard_suppress else ProfileStatus.ACTIVE
            out.profiles.append(
                (
                    row.recipient,
                    status.value,
                    int(event.kind is BounceKind.SOFT),
                    int(event.kind is BounceKind.HARD),
                    row.received_us,
                    event.reason.value,
                    now_us,
                    now_us,
                )
            )
        elif event.kind is BounceKind.COMPLAINT:
            out.complaints.append((row.recipient, now_us, now_us))
        if event.suppress and event.kind in _SUPPRESSING:
            complaint = event.kind is BounceKind.COMPLAINT
            reason = "complaint" if complaint else event.reason.value
            out.suppressions.append(
                (row.recipient, reason, now_us, "complaint" if complaint else "bounce", event_id)
            )
    return out


def suppression_audit(
    suppressions: Sequence[tuple[Any, ...]], new_ids: set[int], now_us: int
) -> list[tuple[int, str, str, str]]:
    """Audit rows (at, actor, address, reason) for the suppressions that were new."""
    audit = [
        (now_us, created_by, address, f"{reason} (bounce event {event_id})")
        for address, reason, _, created_by, event_id in suppressions
        if event_id in new_ids
    ]
    if len(audit) != len(new_ids):
        raise StoreError("suppressions: the rows inserted do not match the batch")
    return audit


def outcomes(
    count: int,
    planned: Sequence[Planned],
    rows: Sequence[EventRow],
    event_ids: Sequence[int | None],
    suppressed: set[int],
) -> list[RecordOutcome]:
    ids_per_item: list[list[int | None]] = [[] for _ in range(count)]
    suppressed_per_item: list[list[str]] = [[] for _ in range(count)]
    for (index, _, _), row, event_id in zip(planned, rows, event_ids, strict=True):
        ids_per_item[index].append(event_id)
        if event_id is not None and event_id in suppressed:
            suppressed_per_item[index].append(row.recipient)
    return [
        RecordOutcome(event_ids=tuple(ids), suppressed=tuple(sup))
        for ids, sup in zip(ids_per_item, suppressed_per_item, strict=True)
    ]


def row_to_event(row: Sequence[Any]) -> BounceEvent:
    """A `bounce_events` row read as EVENT_COLUMNS (any backend)."""
    return BounceEvent(
        id=int(row[0]),
        received_at=from_micros(row[1]),
        recipient=row[2],
        kind=BounceKind(row[3]),
        reason=Reason(row[4]),
        action=Action(row[5]) if row[5] else None,
        status=row[6],
        reply_code=row[7],
        diagnostic=row[8],
        remote_mta=row[9],
        retry_after=row[10],
        mailing_id=row[11],
        from_domain=row[12],
        sending_ip=row[13],
        message_id=row[14],
        intake_id=row[15],
        delivery_id=row[16],
        signed=bool(row[17]),
        source=row[18],
        rule=row[19],
    )


class RecordingFront:
    """`record_events_outcome`, the same on every backend: a one-item `record_batch` call
    (the backend's)."""

    async def record_batch(self, items: Sequence[IntakeRecording], now: datetime) -> list[RecordOutcome]:
        raise NotImplementedError

    async def record_events_outcome(
        self,
        intake_id: int | None,
        events: Sequence[BounceEvent],
        now: datetime,
        message_type: MessageType | None = None,
        bounce_id: str | None = None,
    ) -> RecordOutcome:
        """In one transaction: insert each event unless it is a duplicate; for each new one
        update the recipient's profile, suppress it when `event.suppress` and the kind is
        hard or complaint, mark soft events with a delivery 'pending' for resend; and mark
        the intake message applied. Returns per-event ids (None: duplicate) and the
        addresses newly put on the suppression list.

        `bounce_id` is the bounce message's own Message-ID (see `dedup_key`); without it the
        hash of the intake's raw bytes identifies the bounce."""
        item = IntakeRecording(intake_id, tuple(events), message_type=message_type, bounce_id=bounce_id)
        [outcome] = await self.record_batch([item], now)
        return outcome
