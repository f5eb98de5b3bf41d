"""Recording classified bounce events: events, profiles and suppressions in one transaction."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import aiosqlite

from bounced.model import (
    Action,
    BounceEvent,
    BounceKind,
    MessageType,
    ProfileStatus,
    Reason,
    ResendState,
    normalise_address,
)
from bounced.store.base import RecordOutcome
from bounced.store.sqlite.connection import SQLiteConnection, from_micros, to_micros

__all__ = ["BouncesMixin", "dedup_key", "text_key_for"]

log = logging.getLogger("bounced.store")

_EVENT_COLUMNS = (
    "id, received_at, recipient, kind, reason, action, status, reply_code, diagnostic, remote_mta,"
    " retry_after, mailing_id, from_domain, sending_ip, message_id, intake_id, delivery_id, signed, source"
)
_BOUNCING = (BounceKind.HARD, BounceKind.SOFT, BounceKind.BLOCKED)
_SUPPRESSING = (BounceKind.HARD, BounceKind.COMPLAINT)

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


def text_key_for(diagnostic: str, reply_code: int | None) -> str:
    """The report's grouping key for a diagnostic (C's normaliser; raw text until it exists)."""
    try:
        from bounced.report.bounce_text import normalise_bounce_text
    except ImportError:
        return " ".join(diagnostic.split())
    return normalise_bounce_text(diagnostic, reply_code)


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
    )


class BouncesMixin(SQLiteConnection):
    async def record_events(
        self,
        intake_id: int | None,
        events: Sequence[BounceEvent],
        now: datetime,
        message_type: MessageType | None = None,
        bounce_id: str | None = None,
    ) -> list[int]:
        """Record events (duplicates skipped) and their consequences; ids of new events."""
        outcome = await self.record_events_outcome(intake_id, events, now, message_type, bounce_id)
        return [i for i in outcome.event_ids if i is not None]

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
        now_us = to_micros(now)
        text_keys = [text_key_for(e.diagnostic, e.reply_code) for e in events]
        event_ids: list[int | None] = []
        suppressed: list[str] = []
        async with self._transaction() as conn:
            identity = bounce_id or await self._intake_hash(conn, intake_id)
            for event, text_key in zip(events, text_keys, strict=True):
                event_id, newly = await self._record_one(conn, event, text_key, identity, now_us)
                event_ids.append(event_id)
                if newly:
                    suppressed.append(newly)
            if intake_id is not None:
                await conn.execute(
                    "UPDATE intake SET state = 'applied', error = NULL, processed_at = ?,"
                    " message_type = COALESCE(?, message_type) WHERE id = ?",
                    (now_us, None if message_type is None else message_type.value, intake_id),
                )
        return RecordOutcome(event_ids=tuple(event_ids), suppressed=tuple(suppressed))

    async def _intake_hash(self, conn: aiosqlite.Connection, intake_id: int | None) -> str | None:
        if intake_id is None:
            return None
        cursor = await conn.execute("SELECT sha256 FROM intake WHERE id = ?", (intake_id,))
        row = await cursor.fetchone()
        await cursor.close()
        return None if row is None else str(row[0])

    async def _record_one(
        self, conn: aiosqlite.Connection, event: BounceEvent, text_key: str, identity: str | None, now_us: int
    ) -> tuple[int | None, str | None]:
        """Insert one event; returns (new event id or None, address newly suppressed or None)."""
        recipient = normalise_address(event.recipient)
        resend = ResendState.PENDING.value if event.kind is BounceKind.SOFT and event.delivery_id else None
        cursor = await conn.execute(
            "INSERT INTO bounce_events (received_at, recipient, recipient_domain, kind, reason, action,"
            " status, reply_code, diagnostic, text_key, remote_mta, retry_after, mailing_id, from_domain,"
            " sending_ip, message_id, intake_id, delivery_id, signed, source, dedup_key, resend_state)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (dedup_key) DO NOTHING",
            (
                to_micros(event.received_at),
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
                dedup_key(event, recipient, identity),
                resend,
            ),
        )
        if cursor.rowcount == 0:
            return None, None
        event_id = int(cursor.lastrowid or 0)
        received_us = to_micros(event.received_at)
        hard_suppress = event.kind is BounceKind.HARD and event.suppress
        if event.kind in _BOUNCING:
            status = ProfileStatus.HARD_BOUNCED if hard_suppress else ProfileStatus.ACTIVE
            await conn.execute(
                _UPSERT_PROFILE,
                (
                    recipient,
                    status.value,
                    int(event.kind is BounceKind.SOFT),
                    int(event.kind is BounceKind.HARD),
                    received_us,
                    event.reason.value,
                    now_us,
                    now_us,
                ),
            )
        elif event.kind is BounceKind.COMPLAINT:
            await conn.execute(
                "INSERT INTO profiles (address, status, created_at, updated_at) VALUES (?, 'active', ?, ?)"
                " ON CONFLICT (address) DO NOTHING",
                (recipient, now_us, now_us),
            )
        if not (event.suppress and event.kind in _SUPPRESSING):
            return event_id, None
        complaint = event.kind is BounceKind.COMPLAINT
        reason = "complaint" if complaint else event.reason.value
        created_by = "complaint" if complaint else "bounce"
        cursor = await conn.execute(
            "INSERT INTO suppressions (address, reason, created_at, created_by, bounce_event_id)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (address) DO NOTHING",
            (recipient, reason, now_us, created_by, event_id),
        )
        if cursor.rowcount == 0:
            return event_id, None  # already suppressed: the first entry stands
        await conn.execute(
            "INSERT INTO audit_log (at, actor, action, address, reason)"
            " VALUES (?, ?, 'suppression.add', ?, ?)",
            (now_us, created_by, recipient, f"{reason} (bounce event {event_id})"),
        )
        return event_id, recipient

    async def events_for(self, recipient: str) -> list[BounceEvent]:
        """Every recorded event about `recipient`, oldest first."""
        rows = await self._fetchall(
            f"SELECT {_EVENT_COLUMNS} FROM bounce_events WHERE recipient = ? ORDER BY received_at, id",
            (normalise_address(recipient),),
        )
        return [_row_to_event(r) for r in rows]

    async def get_event(self, event_id: int) -> BounceEvent | None:
        rows = await self._fetchall(f"SELECT {_EVENT_COLUMNS} FROM bounce_events WHERE id = ?", (event_id,))
        return _row_to_event(rows[0]) if rows else None
