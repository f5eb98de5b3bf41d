"""Recording classified bounce events: events, profiles and suppressions in one transaction."""

from __future__ import annotations

import hashlib
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiosqlite

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
from bounced.store.sqlite.connection import from_micros, to_micros
from bounced.store.sqlite.webhooks import WebhooksMixin, webhook_rows_for_bounces

__all__ = ["BouncesMixin", "dedup_key"]

log = logging.getLogger("bounced.store")

_EVENT_COLUMNS = (
    "id, received_at, recipient, kind, reason, action, status, reply_code, diagnostic, remote_mta,"
    " retry_after, mailing_id, from_domain, sending_ip, message_id, intake_id, delivery_id, signed, source,"
    " rule"
)
_BOUNCING = (BounceKind.HARD, BounceKind.SOFT, BounceKind.BLOCKED)
_SUPPRESSING = (BounceKind.HARD, BounceKind.COMPLAINT)
_RESENT = (BounceKind.SOFT, BounceKind.OUR_SIDE)

_INSERT_EVENT = (
    "INSERT INTO bounce_events (received_at, recipient, recipient_domain, kind, reason, action,"
    " status, reply_code, diagnostic, text_key, remote_mta, retry_after, mailing_id, from_domain,"
    " sending_ip, message_id, intake_id, delivery_id, signed, source, dedup_key, resend_state, rule)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (dedup_key) DO NOTHING"
)
_IN_CHUNK = 500  # ids per `IN (...)`: well under SQLite's bound-parameter limit

_UPSERT_PROFILE = """
INSERT INTO profiles (address, status, bounce_count, soft_bounce_count, hard_bounce_count,
                      last_bounce_at, last_bounce_reason, created_at, updated_at)
VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?)
ON CONFLICT (address) DO UPDATE SET
    status = CASE WHEN excluded.status = 'hard_bounced' THEN 'hard_bounced' ELSE profiles.status END,
    bounce_count = profiles.bounce_count + 1,
    soft_bounce_count = profiles.soft_bounce_count + excluded.soft_bounce_count,
    hard_bounce_count = profiles.hard_bounce_count + excluded.hard_bounce_count,
    last_bounce_reason = CASE
        WHEN profiles.last_bounce_at IS NULL OR excluded.last_bounce_at >= profiles.last_bounce_at
        THEN excluded.last_bounce_reason ELSE profiles.last_bounce_reason END,
    last_bounce_at = CASE
        WHEN profiles.last_bounce_at IS NULL OR excluded.last_bounce_at >= profiles.last_bounce_at
        THEN excluded.last_bounce_at ELSE profiles.last_bounce_at END,
    updated_at = excluded.updated_at
"""


def _text_key(event: BounceEvent) -> str:
    # Policy sets the key (`apply.policy.plan_events`), computed where the failure was
    # classified; the store only persists it and never normalises texts itself.
    if event.text_key is None:
        raise ValueError(f"bounce event for {event.recipient!r} has no text_key (set by plan_events)")
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
class _EventRow:
    recipient: str  # normalised
    received_us: int
    dedup_key: str | None
    params: tuple[Any, ...]  # for _INSERT_EVENT


def _event_row(event: BounceEvent, text_key: str, identity: str | None, recipient: str) -> _EventRow:
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
    return _EventRow(recipient, received_us, key, params)


def _outcomes(
    count: int,
    planned: Sequence[tuple[int, BounceEvent, str]],
    rows: Sequence[_EventRow],
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


def _row_to_event(row: Sequence[Any]) -> BounceEvent:
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


class BouncesMixin(WebhooksMixin):
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

    async def record_batch(self, items: Sequence[IntakeRecording], now: datetime) -> list[RecordOutcome]:
        """`record_events_outcome` for many intake messages in one transaction (see
        `store.base.BounceStore.record_batch`).

        Set-based, so a batch costs a dozen statements (each a hop to the connection's
        thread) instead of several per event: events go in with one `executemany` and their
        ids are read back (ids above the previous maximum, in insertion order, under the
        write lock); profiles, suppressions, audit entries and intake states follow, each
        one `executemany` in event order, which leaves the same rows as recording the
        events one by one. Everything from the first read to the last write runs in one
        transaction holding the write lock, so the ids read back are this batch's."""
        now_us = to_micros(now)
        planned = [
            (index, event, _text_key(event)) for index, item in enumerate(items) for event in item.events
        ]
        marks = [
            (
                item.state.value,
                item.error,
                now_us,
                None if item.message_type is None else item.message_type.value,
                item.intake_id,
            )
            for item in items
            if item.intake_id is not None
        ]

        async def record(conn: aiosqlite.Connection) -> list[RecordOutcome]:
            identities = await self._identities(conn, items)
            rows = [
                _event_row(event, text_key, identities[index], self._address(event.recipient))
                for index, event, text_key in planned
            ]
            event_ids = await self._insert_events(conn, rows)
            suppressed = await self._apply_consequences(conn, planned, rows, event_ids, now_us)
            if self._webhook_outbox:
                rows_out = webhook_rows_for_bounces(
                    [(e, r.recipient, i) for (_, e, _), r, i in zip(planned, rows, event_ids, strict=True)],
                    suppressed,
                    now_us,
                )
                await self._outbox_events(conn, rows_out)
            if marks:
                await conn.executemany(
                    "UPDATE intake SET state = ?, error = ?, processed_at = ?,"
                    " message_type = COALESCE(?, message_type) WHERE id = ?",
                    marks,
                )
            return _outcomes(len(items), planned, rows, event_ids, suppressed)

        # Shares the commit (and its fsync) with the listener's spools in flight; if the
        # shared transaction fails, this runs alone (connection.py `_group_commit`).
        return await self._group_commit(record)

    async def _identities(
        self, conn: aiosqlite.Connection, items: Sequence[IntakeRecording]
    ) -> list[str | None]:
        """Each item's bounce identity: its bounce_id, else its intake's raw hash."""
        wanted = [i.intake_id for i in items if i.events and not i.bounce_id and i.intake_id is not None]
        hashes: dict[int, str] = {}
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start : start + _IN_CHUNK]
            found = await conn.execute_fetchall(
                f"SELECT id, sha256 FROM intake WHERE id IN ({', '.join('?' * len(chunk))})", chunk
            )
            hashes.update((int(r[0]), str(r[1])) for r in found)
        return [
            item.bounce_id or (None if item.intake_id is None else hashes.get(item.intake_id))
            for item in items
        ]

    async def _insert_events(self, conn: aiosqlite.Connection, rows: Sequence[_EventRow]) -> list[int | None]:
        """Insert events, duplicates (same dedup_key, in the table or earlier here) skipped;
        the new id of each, or None for a duplicate."""
        if not rows:
            return []
        [(before,)] = await conn.execute_fetchall("SELECT COALESCE(MAX(id), 0) FROM bounce_events")
        await conn.executemany(_INSERT_EVENT, [row.params for row in rows])
        # Under the write lock a new row's id is above every existing one, assigned in order.
        inserted = await conn.execute_fetchall(
            "SELECT id, dedup_key FROM bounce_events WHERE id > ? ORDER BY id", (before,)
        )
        by_key: dict[str, int] = {}
        keyless: deque[int] = deque()
        for event_id, key in inserted:
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

    async def _apply_consequences(
        self,
        conn: aiosqlite.Connection,
        planned: Sequence[tuple[int, BounceEvent, str]],
        rows: Sequence[_EventRow],
        event_ids: Sequence[int | None],
        now_us: int,
    ) -> set[int]:
        """Profiles and suppressions for the newly inserted events; returns the ids of the
        events whose suppression is new (an address already suppressed keeps its entry)."""
        upserts: list[tuple[Any, ...]] = []
        complaints: list[tuple[Any, ...]] = []
        suppressions: list[tuple[Any, ...]] = []
        hard_deliveries: list[tuple[Any, ...]] = []
        quarantines: list[tuple[Any, ...]] = []
        for (_, event, text_key), row, event_id in zip(planned, rows, event_ids, strict=True):
            if event_id is None:
                continue
            if event.quarantine:
                domain = row.recipient.rpartition("@")[2]
                quarantines.append(
                    (row.recipient, event_id, event.reason.value, domain, event.sending_ip, text_key, now_us)
                )
            if event.kind is BounceKind.HARD and event.signed and event.delivery_id is not None:
                hard_deliveries.append((event.diagnostic or event.reason.value, now_us, event.delivery_id))
            if event.kind in _BOUNCING:
                hard_suppress = event.kind is BounceKind.HARD and event.suppress
                status = ProfileStatus.HARD_BOUNCED if hard_suppress else ProfileStatus.ACTIVE
                upserts.append(
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
                complaints.append((row.recipient, now_us, now_us))
            if event.suppress and event.kind in _SUPPRESSING:
                complaint = event.kind is BounceKind.COMPLAINT
                reason = "complaint" if complaint else event.reason.value
                suppressions.append(
                    (row.recipient, reason, now_us, "complaint" if complaint else "bounce", event_id)
                )
        # A complaint's profile insert and a bounce's upsert commute: either order leaves the
        # same row (counts start at 0, created_at is `now` for both).
        if upserts:
            await conn.executemany(_UPSERT_PROFILE, upserts)
        if complaints:
            await conn.executemany(
                "INSERT INTO profiles (address, status, created_at, updated_at) VALUES (?, 'active', ?, ?)"
                " ON CONFLICT (address) DO NOTHING",
                complaints,
            )
        if hard_deliveries:
            await self._close_hard_bounced(conn, hard_deliveries)
        if quarantines:
            await conn.executemany(
                "INSERT INTO quarantine (address, bounce_event_id, reason, recipient_domain, sending_ip,"
                " text_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                quarantines,
            )
        if not suppressions:
            return set()
        [(before,)] = await conn.execute_fetchall("SELECT COALESCE(MAX(rowid), 0) FROM suppressions")
        await conn.executemany(
            "INSERT INTO suppressions (address, reason, created_at, created_by, bounce_event_id)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (address) DO NOTHING",
            suppressions,
        )
        added = await conn.execute_fetchall(
            "SELECT bounce_event_id FROM suppressions WHERE rowid > ? ORDER BY rowid", (before,)
        )
        new_ids = {int(r[0]) for r in added}
        audit = [
            (now_us, created_by, address, f"{reason} (bounce event {event_id})")
            for address, reason, _, created_by, event_id in suppressions
            if event_id in new_ids
        ]
        if len(audit) != len(new_ids):
            raise StoreError("suppressions: the rows inserted do not match the batch")
        await conn.executemany(
            "INSERT INTO audit_log (at, actor, action, address, reason)"
            " VALUES (?, ?, 'suppression.add', ?, ?)",
            audit,
        )
        return new_ids

    @staticmethod
    async def _close_hard_bounced(conn: aiosqlite.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        """A signed hard bounce by mail about one of our deliveries (it had been handed on
        with 250, or was waiting for a resend): the delivery is hard_bounced and its pending
        resends are cancelled. Only signed bounces: an unsigned one could be forged."""
        await conn.executemany(
            "UPDATE deliveries SET state = 'hard_bounced', last_bounce_text = ?1"
            " WHERE id = ?3 AND state IN ('delivered', 'soft_bounced', 'scheduled')",
            rows,
        )
        await conn.executemany(
            "UPDATE resend_jobs SET state = 'cancelled', lease_until = NULL, finished_at = ?2"
            " WHERE delivery_id = ?3 AND state = 'pending'",
            rows,
        )

    async def events_for(self, recipient: str) -> list[BounceEvent]:
        """Every recorded event about `recipient`, oldest first."""
        rows = await self._fetchall(
            f"SELECT {_EVENT_COLUMNS} FROM bounce_events WHERE recipient = ? ORDER BY received_at, id",
            (self._address(recipient),),
        )
        return [_row_to_event(r) for r in rows]

    async def get_event(self, event_id: int) -> BounceEvent | None:
        rows = await self._fetchall(f"SELECT {_EVENT_COLUMNS} FROM bounce_events WHERE id = ?", (event_id,))
        return _row_to_event(rows[0]) if rows else None
