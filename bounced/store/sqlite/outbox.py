"""The sending side's tables: outbound messages, deliveries, the resend queue, non-deliveries.

The queue row is the job (APScheduler only wakes the worker): `claim_attempts` moves due
rows to 'running' with a lease in one transaction, so two workers (or a restarted daemon)
never take the same row while the lease holds, and a crash mid-send leaves a row that is
taken over once its lease expires. Every state change of a delivery happens in the same
transaction as the change of its job or bounce event.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import aiosqlite

from bounced.model import (
    BounceEvent,
    Delivery,
    DeliveryState,
    NonDelivery,
    OutboundMessage,
    ResendJob,
    ResendState,
    normalise_address,
)
from bounced.store.base import OutboundAttempt
from bounced.store.rules import job_state_after
from bounced.store.sqlite.bounces import _EVENT_COLUMNS, _row_to_event
from bounced.store.sqlite.connection import from_micros, from_micros_opt, to_micros
from bounced.store.sqlite.webhooks import WebhooksMixin

__all__ = ["OutboxMixin"]

_DELIVERY_COLUMNS = (
    "d.id, d.message_id, d.recipient, d.sending_ip, d.state, d.attempts, d.created_at,"
    " d.last_attempt_at, d.last_bounce_text, m.mailing_id, m.from_domain"
)
_JOB_COLUMNS = (
    "j.id, j.delivery_id, j.due_at, j.attempt, j.state, j.last_bounce_text, d.recipient, j.lease_until"
)
_ND_COLUMNS = (
    "id, delivery_id, recipient, at, attempts, last_bounce_text, mailing_id, from_domain, sending_ip"
)

# Statements both stores run (PostgreSQL numbers the marks: store/postgres/sql.numbered).
GET_OUTBOUND = (
    "SELECT id, received_at, mail_from, raw, mailing_id, from_domain, message_id"
    " FROM outbound_messages WHERE id = ?"
)
SCHEDULE_JOB = (
    "INSERT INTO resend_jobs (delivery_id, attempt, due_at, created_at, bounce_event_id, last_bounce_text)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (delivery_id, attempt) DO NOTHING"
)
MARK_SCHEDULED = "UPDATE deliveries SET state = 'scheduled', last_bounce_text = ? WHERE id = ?"
SET_RESEND_STATE = "UPDATE bounce_events SET resend_state = ? WHERE id = ?"
RECORD_NON_DELIVERY = (
    "INSERT INTO non_deliveries (delivery_id, recipient, at, attempts, last_bounce_text, mailing_id,"
    " from_domain, sending_ip)"
    " SELECT d.id, d.recipient, ?, d.attempts, ?, m.mailing_id, m.from_domain, d.sending_ip"
    " FROM deliveries d JOIN outbound_messages m ON m.id = d.message_id WHERE d.id = ?"
    " ON CONFLICT (delivery_id) DO NOTHING"
)
CLOSE_DELIVERY = "UPDATE deliveries SET state = ?, last_bounce_text = ? WHERE id = ?"
CANCEL_PENDING = (
    "UPDATE resend_jobs SET state = 'cancelled', lease_until = NULL, finished_at = ?"
    " WHERE delivery_id = ? AND state = 'pending'"
)


def _row_to_delivery(r: Sequence[Any]) -> Delivery:
    return Delivery(
        int(r[0]), int(r[1]), r[2], r[3], DeliveryState(r[4]), int(r[5]), from_micros(r[6]),
        from_micros_opt(r[7]), r[8], r[9], r[10],
    )  # fmt: skip


def _row_to_job(r: Sequence[Any]) -> ResendJob:
    return ResendJob(
        int(r[0]),
        int(r[1]),
        from_micros(r[2]),
        int(r[3]),
        ResendState(r[4]),
        r[5],
        r[6],
        from_micros_opt(r[7]),
    )


def _row_to_non_delivery(r: Sequence[Any]) -> NonDelivery:
    return NonDelivery(int(r[0]), int(r[1]), r[2], from_micros(r[3]), int(r[4]), r[5], r[6], r[7], r[8])


class OutboxMixin(WebhooksMixin):
    # --- submission ------------------------------------------------------------------

    async def record_outbound(
        self,
        raw: bytes,
        mail_from: str,
        recipients: Sequence[tuple[str, str | None]],
        now: datetime,
        *,
        mailing_id: str | None = None,
        from_domain: str | None = None,
        message_id: str | None = None,
        due_at: Sequence[datetime] | None = None,
    ) -> tuple[int, list[int]]:
        """Store a submitted message once, a delivery per (recipient, sending IP) and its first
        attempt due now (or at `due_at[i]`: deferred sending, benchmarks); returns (message
        id, delivery ids) once committed (group commit)."""
        now_us = to_micros(now)
        if due_at is not None and len(due_at) != len(recipients):
            raise ValueError("due_at needs one time per recipient")
        due_us = [now_us] * len(recipients) if due_at is None else [to_micros(d) for d in due_at]

        async def insert(conn: aiosqlite.Connection) -> tuple[int, list[int]]:
            cursor = await conn.execute(
                "INSERT INTO outbound_messages (received_at, mail_from, raw, mailing_id, from_domain,"
                " message_id) VALUES (?, ?, ?, ?, ?, ?)",
                (now_us, mail_from, raw, mailing_id, from_domain, message_id),
            )
            msg_id = int(cursor.lastrowid or 0)
            delivery_ids = []
            for (recipient, ip), due in zip(recipients, due_us, strict=True):
                cursor = await conn.execute(
                    "INSERT INTO deliveries (message_id, recipient, sending_ip, created_at)"
                    " VALUES (?, ?, ?, ?)",
                    (msg_id, normalise_address(recipient), ip, now_us),
                )
                delivery_id = int(cursor.lastrowid or 0)
                delivery_ids.append(delivery_id)
                await conn.execute(
                    "INSERT INTO resend_jobs (delivery_id, attempt, due_at, created_at) VALUES (?, 1, ?, ?)",
                    (delivery_id, due, now_us),
                )
            return msg_id, delivery_ids

        return await self._group_commit(insert)

    async def count_refusal(self, address: str, now: datetime) -> int:
        """Count a submission refused because `address` is suppressed; returns the total.
        Shares a commit with concurrent callers (a platform may retry many at once)."""
        now_us = to_micros(now)
        params = (self._address(address), now_us, now_us)

        async def upsert(conn: aiosqlite.Connection) -> int:
            cursor = await conn.execute(
                "INSERT INTO submission_refusals (address, count, first_at, last_at) VALUES (?, 1, ?, ?)"
                " ON CONFLICT (address) DO UPDATE SET count = count + 1, last_at = excluded.last_at"
                " RETURNING count",
                params,
            )
            row = await cursor.fetchone()
            await cursor.close()
            return int(row[0]) if row else 0

        return await self._group_commit(upsert)

    # --- reading ---------------------------------------------------------------------

    async def get_outbound(self, message_id: int) -> OutboundMessage | None:
        row = await self._fetchone(GET_OUTBOUND, (message_id,))
        if row is None:
            return None
        return OutboundMessage(
            id=int(row[0]),
            received_at=from_micros(row[1]),
            mail_from=row[2],
            raw=bytes(row[3]),
            mailing_id=row[4],
            from_domain=row[5],
            message_id=row[6],
        )

    async def get_delivery(self, delivery_id: int) -> Delivery | None:
        rows = await self._fetchall(
            f"SELECT {_DELIVERY_COLUMNS} FROM deliveries d JOIN outbound_messages m ON m.id = d.message_id"
            " WHERE d.id = ?",
            (delivery_id,),
        )
        return _row_to_delivery(rows[0]) if rows else None

    async def list_resends(
        self,
        limit: int = 1000,
        include_first: bool = True,
        *,
        recipient: str | None = None,
        submission_id: int | None = None,
    ) -> list[ResendJob]:
        """Pending and running queue rows, soonest first (attempt 1 = first delivery); only
        those of `recipient` and/or of one submitted message (the id in "queued as ID")."""
        where = ["j.state IN ('pending', 'running')", "j.attempt >= ?"]
        params: list[object] = [1 if include_first else 2]
        if recipient is not None:
            where.append("d.recipient = ?")
            params.append(normalise_address(recipient))
        if submission_id is not None:
            where.append("d.message_id = ?")
            params.append(submission_id)
        rows = await self._fetchall(
            f"SELECT {_JOB_COLUMNS} FROM resend_jobs j JOIN deliveries d ON d.id = j.delivery_id"
            f" WHERE {' AND '.join(where)} ORDER BY j.due_at, j.id LIMIT ?",
            (*params, limit),
        )
        return [_row_to_job(r) for r in rows]

    async def get_resend(self, job_id: int) -> ResendJob | None:
        rows = await self._fetchall(
            f"SELECT {_JOB_COLUMNS} FROM resend_jobs j JOIN deliveries d ON d.id = j.delivery_id"
            " WHERE j.id = ?",
            (job_id,),
        )
        return _row_to_job(rows[0]) if rows else None

    async def jobs_for_delivery(self, delivery_id: int) -> list[ResendJob]:
        rows = await self._fetchall(
            f"SELECT {_JOB_COLUMNS} FROM resend_jobs j JOIN deliveries d ON d.id = j.delivery_id"
            " WHERE j.delivery_id = ? ORDER BY j.attempt",
            (delivery_id,),
        )
        return [_row_to_job(r) for r in rows]

    async def next_due_at(self) -> datetime | None:
        """The earliest time the queue has work: a pending row's due time or a lease's end."""
        row = await self._fetchone(
            "SELECT MIN(t) FROM (SELECT MIN(due_at) AS t FROM resend_jobs WHERE state = 'pending'"
            " UNION ALL SELECT MIN(lease_until) FROM resend_jobs WHERE state = 'running')"
        )
        return from_micros_opt(row[0]) if row else None

    async def queue_counts(self) -> dict[str, int]:
        rows = await self._fetchall("SELECT state, COUNT(*) FROM resend_jobs GROUP BY state")
        counts = {s.value: 0 for s in ResendState}
        counts.update({r[0]: int(r[1]) for r in rows})
        return counts

    async def list_non_deliveries(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        mailing_id: str | None = None,
        limit: int = 10_000,
    ) -> list[NonDelivery]:
        sql = f"SELECT {_ND_COLUMNS} FROM non_deliveries WHERE 1 = 1"
        params: list[Any] = []
        if since is not None:
            sql += " AND at >= ?"
            params.append(to_micros(since))
        if until is not None:
            sql += " AND at < ?"
            params.append(to_micros(until))
        if mailing_id is not None:
            sql += " AND mailing_id = ?"
            params.append(mailing_id)
        rows = await self._fetchall(sql + " ORDER BY at, id LIMIT ?", (*params, limit))
        return [_row_to_non_delivery(r) for r in rows]

    async def pending_resend_events(self, limit: int = 500) -> list[BounceEvent]:
        """Soft bounce events about one of our deliveries that the queue has not decided on."""
        rows = await self._fetchall(
            f"SELECT {_EVENT_COLUMNS} FROM bounce_events WHERE resend_state = 'pending' ORDER BY id LIMIT ?",
            (limit,),
        )
        return [_row_to_event(r) for r in rows]

    # --- queue transitions -----------------------------------------------------------

    async def claim_attempts(self, now: datetime, lease_until: datetime, limit: int) -> list[OutboundAttempt]:
        """Take up to `limit` due rows (and rows whose lease ran out): 'running' with a lease,
        their deliveries 'sent' with the attempt counted, in one transaction."""
        now_us, lease_us = to_micros(now), to_micros(lease_until)
        async with self._transaction() as conn:
            cursor = await conn.execute(
                "UPDATE resend_jobs SET state = 'running', lease_until = ?, started_at = ?"
                " WHERE id IN (SELECT id FROM resend_jobs WHERE state = 'pending' AND due_at <= ?"
                "  ORDER BY due_at LIMIT ?)"
                " OR id IN (SELECT id FROM resend_jobs WHERE state = 'running' AND lease_until <= ? LIMIT ?)"
                " RETURNING id, delivery_id, attempt, due_at",
                (lease_us, now_us, now_us, limit, now_us, limit),
            )
            jobs = {int(r[1]): (int(r[0]), int(r[2]), int(r[3])) for r in await cursor.fetchall()}
            await cursor.close()
            if not jobs:
                return []
            await conn.executemany(
                "UPDATE deliveries SET state = 'sent', attempts = ?, last_attempt_at = ? WHERE id = ?",
                [(attempt, now_us, delivery_id) for delivery_id, (_, attempt, _) in jobs.items()],
            )
            marks = ", ".join("?" * len(jobs))
            cursor = await conn.execute(
                "SELECT d.id, d.recipient, d.sending_ip, d.created_at, d.message_id, m.mailing_id,"
                " m.from_domain, m.message_id FROM deliveries d"
                f" JOIN outbound_messages m ON m.id = d.message_id WHERE d.id IN ({marks})",
                tuple(jobs),
            )
            rows = await cursor.fetchall()
            await cursor.close()
        attempts = []
        for r in rows:
            job_id, attempt, due_us = jobs[int(r[0])]
            attempts.append(
                OutboundAttempt(
                    job_id=job_id,
                    delivery_id=int(r[0]),
                    attempt=attempt,
                    due_at=from_micros(due_us),
                    recipient=r[1],
                    sending_ip=r[2],
                    created_at=from_micros(r[3]),
                    outbound_id=int(r[4]),
                    mailing_id=r[5],
                    from_domain=r[6],
                    message_id=r[7],
                )
            )
        attempts.sort(key=lambda a: (a.due_at, a.job_id))
        return attempts

    async def finish_attempts(
        self, rows: Sequence[tuple[int, int, DeliveryState, datetime, str | None]]
    ) -> None:
        """Close running rows (job id, delivery id, state, time, bounce text): each row "done",
        or "cancelled" when the delivery is suppressed, and its delivery's state set; in one
        transaction: two statements however many rows, so a busy queue is not commit-bound."""
        if not rows:
            return
        jobs = [
            (
                job_state_after(state).value,
                to_micros(at),
                job_id,
            )
            for job_id, _, state, at, _ in rows
        ]
        deliveries = [(state.value, text, delivery_id) for _, delivery_id, state, _, text in rows]
        async with self._transaction() as conn:
            await conn.executemany(
                "UPDATE resend_jobs SET state = ?, lease_until = NULL, finished_at = ? WHERE id = ?", jobs
            )
            await conn.executemany(
                "UPDATE deliveries SET state = ?, last_bounce_text = COALESCE(?, last_bounce_text)"
                " WHERE id = ?",
                deliveries,
            )
            await self._outbox_delivered(
                conn, [(to_micros(at), d) for _, d, st, at, _ in rows if st is DeliveryState.DELIVERED]
            )

    async def schedule_resend(
        self,
        delivery_id: int,
        attempt: int,
        due_at: datetime,
        now: datetime,
        bounce_text: str,
        event_id: int | None = None,
    ) -> bool:
        """Queue attempt number `attempt`; mark the delivery scheduled and the event decided.
        False when that attempt was already queued (a second bounce about the same attempt)."""
        now_us = to_micros(now)
        async with self._transaction() as conn:
            cursor = await conn.execute(
                SCHEDULE_JOB,
                (delivery_id, attempt, to_micros(due_at), now_us, event_id, bounce_text),
            )
            created = cursor.rowcount > 0
            if created:
                await conn.execute(MARK_SCHEDULED, (bounce_text, delivery_id))
            if event_id is not None:
                await conn.execute(SET_RESEND_STATE, ("scheduled" if created else "duplicate", event_id))
        return created

    async def give_up_delivery(
        self,
        delivery_id: int,
        now: datetime,
        bounce_text: str,
        event_id: int | None = None,
        state: DeliveryState = DeliveryState.UNDELIVERED,
    ) -> bool:
        """Record the one non-delivery event of a delivery (no-op if it exists) and close
        the delivery and the deciding event. True when the non-delivery is new."""
        now_us = to_micros(now)
        async with self._transaction() as conn:
            cursor = await conn.execute(RECORD_NON_DELIVERY, (now_us, bounce_text, delivery_id))
            created = cursor.rowcount > 0
            if created:
                await self._outbox_non_delivery(conn, delivery_id)
            await conn.execute(CLOSE_DELIVERY, (state.value, bounce_text, delivery_id))
            await conn.execute(CANCEL_PENDING, (now_us, delivery_id))
            if event_id is not None:
                await conn.execute(SET_RESEND_STATE, ("gave_up", event_id))
        return created

    async def mark_resend_event(self, event_id: int, state: str) -> None:
        """Close a pending event without scheduling ('ignored': a delay notice, an unknown or
        finished delivery; 'duplicate': a resend is already pending)."""
        async with self._transaction() as conn:
            await conn.execute(SET_RESEND_STATE, (state, event_id))
