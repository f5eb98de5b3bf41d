"""The sending side on PostgreSQL (store/sqlite/outbox.py is the model), for several nodes.

The queue: `claim_attempts` takes due rows (and rows whose lease ran out) with
`FOR UPDATE SKIP LOCKED`, so two nodes claiming at once take disjoint rows without waiting
for each other, and gives each claim a token (sequence resend_claims) that this store
remembers per job. `finish_attempts` closes a row only while its token is still the one
this node set: a node that was only slow, whose lease ran out and whose row another node
took over, finishes nothing (logged `event=lease_lost`) and cannot undo the new attempt.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from bounced.logfmt import kv
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
from bounced.store.postgres.sql import numbered, rowcount
from bounced.store.postgres.webhooks import WebhooksMixin
from bounced.store.recording import EVENT_COLUMNS as _EVENT_COLUMNS
from bounced.store.recording import row_to_event as _row_to_event
from bounced.store.rules import job_state_after
from bounced.store.sqlite.outbox import (
    _DELIVERY_COLUMNS,
    _JOB_COLUMNS,
    _ND_COLUMNS,
    CANCEL_PENDING,
    CLOSE_DELIVERY,
    GET_OUTBOUND,
    MARK_SCHEDULED,
    RECORD_NON_DELIVERY,
    SCHEDULE_JOB,
    SET_RESEND_STATE,
    _row_to_delivery,
    _row_to_job,
    _row_to_non_delivery,
)
from bounced.store.timecodec import from_micros, from_micros_opt, to_micros

__all__ = ["OutboxMixin"]

log = logging.getLogger("bounced.store")

# Claims remembered per store (job id -> token): far more than a queue's batch ever holds.
_MAX_CLAIMS = 100_000

_CLAIM = """
WITH due AS (
    SELECT id, due_at FROM resend_jobs WHERE state = 'pending' AND due_at <= $1
    ORDER BY due_at LIMIT $3 FOR UPDATE SKIP LOCKED
), stale AS (
    SELECT id, due_at FROM resend_jobs WHERE state = 'running' AND lease_until <= $1
    ORDER BY lease_until LIMIT $3 FOR UPDATE SKIP LOCKED
), chosen AS (
    SELECT id FROM (SELECT * FROM due UNION ALL SELECT * FROM stale) AS c ORDER BY due_at, id LIMIT $3
), token AS (
    SELECT nextval('resend_claims') AS t
), claimed AS (
    UPDATE resend_jobs j SET state = 'running', lease_until = $2, started_at = $1,
        claim_token = (SELECT t FROM token)
    FROM chosen WHERE j.id = chosen.id
    RETURNING j.id, j.delivery_id, j.attempt, j.due_at, j.claim_token
), sent AS (
    UPDATE deliveries d SET state = 'sent', attempts = c.attempt, last_attempt_at = $1
    FROM claimed c WHERE d.id = c.delivery_id
)
SELECT c.id, c.delivery_id, c.attempt, c.due_at, c.claim_token, d.recipient, d.sending_ip, d.created_at,
       d.message_id, m.mailing_id, m.from_domain, m.message_id
FROM claimed c JOIN deliveries d ON d.id = c.delivery_id JOIN outbound_messages m ON m.id = d.message_id
ORDER BY c.due_at, c.id
"""

# Close the rows whose claim is still ours (token), or that are not running (no claim);
# then their deliveries. Returns the finished deliveries.
_FINISH = """
WITH v AS (
    SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::bigint[], $6::text[],
                         $7::text[]) AS v (job, delivery, job_state, at, token, state, text)
), finished AS (
    UPDATE resend_jobs j SET state = v.job_state, lease_until = NULL, finished_at = v.at, claim_token = NULL
    FROM v WHERE j.id = v.job AND (j.claim_token = v.token OR (v.token IS NULL AND j.state <> 'running'))
    RETURNING j.id
)
UPDATE deliveries d SET state = v.state, last_bounce_text = COALESCE(v.text, d.last_bounce_text)
FROM v JOIN finished f ON f.id = v.job WHERE d.id = v.delivery
RETURNING v.job, d.id, v.state, v.at
"""


class OutboxMixin(WebhooksMixin):
    # job id -> claim token of the rows this store claimed and has not finished
    _claims: dict[int, int]

    def _claim_tokens(self) -> dict[int, int]:
        if not hasattr(self, "_claims"):
            self._claims = {}
        return self._claims

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
        attempt due now (or at `due_at[i]`); returns (message id, delivery ids) once committed."""
        now_us = to_micros(now)
        if due_at is not None and len(due_at) != len(recipients):
            raise ValueError("due_at needs one time per recipient")
        due_us = [now_us] * len(recipients) if due_at is None else [to_micros(d) for d in due_at]
        async with self._transaction() as conn:
            msg_id = int(
                await conn.fetchval(
                    "INSERT INTO outbound_messages (received_at, mail_from, raw, mailing_id, from_domain,"
                    " message_id) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                    now_us, mail_from, raw, mailing_id, from_domain, message_id,
                )
            )  # fmt: skip
            # Ids drawn first: the deliveries' order is the recipients' without trusting RETURNING's.
            ids = [
                int(r[0])
                for r in await conn.fetch(
                    "SELECT nextval(pg_get_serial_sequence('deliveries', 'id')) FROM generate_series(1, $1)",
                    len(recipients),
                )
            ]
            await conn.execute(
                "INSERT INTO deliveries (id, message_id, recipient, sending_ip, created_at)"
                " SELECT v.id, $1, v.recipient, v.ip, $2 FROM unnest($3::bigint[], $4::text[], $5::text[])"
                " AS v (id, recipient, ip)",
                msg_id, now_us, ids, [normalise_address(r) for r, _ in recipients],
                [ip for _, ip in recipients],
            )  # fmt: skip
            await conn.execute(
                "INSERT INTO resend_jobs (delivery_id, attempt, due_at, created_at)"
                " SELECT v.id, 1, v.due, $1 FROM unnest($2::bigint[], $3::bigint[]) AS v (id, due)",
                now_us, ids, due_us,
            )  # fmt: skip
        return msg_id, ids

    async def count_refusal(self, address: str, now: datetime) -> int:
        """Count a submission refused because `address` is suppressed; returns the total
        (an atomic upsert: several nodes count without losing one)."""
        now_us = to_micros(now)
        async with self._transaction() as conn:
            value = await conn.fetchval(
                "INSERT INTO submission_refusals AS r (address, count, first_at, last_at) VALUES"
                " ($1, 1, $2, $2)"
                " ON CONFLICT (address) DO UPDATE SET count = r.count + 1,"
                " last_at = GREATEST(r.last_at, excluded.last_at) RETURNING count",
                self._address(address), now_us,
            )  # fmt: skip
        return int(value)

    # --- reading ---------------------------------------------------------------------

    async def get_outbound(self, message_id: int) -> OutboundMessage | None:
        row = await self._fetchrow(numbered(GET_OUTBOUND), message_id)
        if row is None:
            return None
        return OutboundMessage(
            id=int(row[0]), received_at=from_micros(row[1]), mail_from=row[2], raw=bytes(row[3]),
            mailing_id=row[4], from_domain=row[5], message_id=row[6],
        )  # fmt: skip

    async def get_delivery(self, delivery_id: int) -> Delivery | None:
        row = await self._fetchrow(
            f"SELECT {_DELIVERY_COLUMNS} FROM deliveries d JOIN outbound_messages m ON m.id = d.message_id"
            " WHERE d.id = $1",
            delivery_id,
        )
        return None if row is None else _row_to_delivery(row)

    async def list_resends(
        self,
        limit: int = 1000,
        include_first: bool = True,
        *,
        recipient: str | None = None,
        submission_id: int | None = None,
    ) -> list[ResendJob]:
        """Pending and running queue rows, soonest first (attempt 1 = first delivery)."""
        rows = await self._fetch(
            f"SELECT {_JOB_COLUMNS} FROM resend_jobs j JOIN deliveries d ON d.id = j.delivery_id"
            " WHERE j.state IN ('pending', 'running') AND j.attempt >= $1"
            " AND ($2::text IS NULL OR d.recipient = $2) AND ($3::bigint IS NULL OR d.message_id = $3)"
            " ORDER BY j.due_at, j.id LIMIT $4",
            1 if include_first else 2,
            None if recipient is None else normalise_address(recipient),
            submission_id,
            limit,
        )
        return [_row_to_job(r) for r in rows]

    async def get_resend(self, job_id: int) -> ResendJob | None:
        row = await self._fetchrow(
            f"SELECT {_JOB_COLUMNS} FROM resend_jobs j JOIN deliveries d ON d.id ="
            " j.delivery_id WHERE j.id = $1",
            job_id,
        )
        return None if row is None else _row_to_job(row)

    async def jobs_for_delivery(self, delivery_id: int) -> list[ResendJob]:
        rows = await self._fetch(
            f"SELECT {_JOB_COLUMNS} FROM resend_jobs j JOIN deliveries d ON d.id = j.delivery_id"
            " WHERE j.delivery_id = $1 ORDER BY j.attempt",
            delivery_id,
        )
        return [_row_to_job(r) for r in rows]

    async def next_due_at(self) -> datetime | None:
        """The earliest time the queue has work: a pending row's due time or a lease's end."""
        value = await self._fetchval(
            "SELECT LEAST((SELECT MIN(due_at) FROM resend_jobs WHERE state = 'pending'),"
            " (SELECT MIN(lease_until) FROM resend_jobs WHERE state = 'running'))"
        )
        return from_micros_opt(value)

    async def queue_counts(self) -> dict[str, int]:
        rows = await self._fetch("SELECT state, COUNT(*) FROM resend_jobs GROUP BY state")
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
        rows = await self._fetch(
            f"SELECT {_ND_COLUMNS} FROM non_deliveries WHERE ($1::bigint IS NULL OR at >= $1)"
            " AND ($2::bigint IS NULL OR at < $2) AND ($3::text IS NULL OR mailing_id = $3)"
            " ORDER BY at, id LIMIT $4",
            None if since is None else to_micros(since),
            None if until is None else to_micros(until),
            mailing_id,
            limit,
        )
        return [_row_to_non_delivery(r) for r in rows]

    async def pending_resend_events(self, limit: int = 500) -> list[BounceEvent]:
        rows = await self._fetch(
            f"SELECT {_EVENT_COLUMNS} FROM bounce_events WHERE resend_state = 'pending' ORDER BY id LIMIT $1",
            limit,
        )
        return [_row_to_event(r) for r in rows]

    # --- queue transitions -----------------------------------------------------------

    async def claim_attempts(self, now: datetime, lease_until: datetime, limit: int) -> list[OutboundAttempt]:
        """Take up to `limit` due rows (and rows whose lease ran out) that no other node is
        taking now: 'running' with a lease and this claim's token, their deliveries 'sent'
        with the attempt counted, in one statement."""
        params = (to_micros(now), to_micros(lease_until), limit)

        async def claim(conn: asyncpg.Connection) -> list[asyncpg.Record]:
            return list(await conn.fetch(_CLAIM, *params))

        rows = await self._in_transaction(claim)  # a deadlock with a finishing node: again
        tokens = self._claim_tokens()
        if len(tokens) > _MAX_CLAIMS:  # attempts that raised and never finished: forget the oldest
            for job_id in list(tokens)[: len(tokens) // 2]:
                del tokens[job_id]
        attempts = []
        for r in rows:
            tokens[int(r[0])] = int(r[4])
            attempts.append(
                OutboundAttempt(
                    job_id=int(r[0]), delivery_id=int(r[1]), attempt=int(r[2]), due_at=from_micros(r[3]),
                    recipient=r[5], sending_ip=r[6], created_at=from_micros(r[7]), outbound_id=int(r[8]),
                    mailing_id=r[9], from_domain=r[10], message_id=r[11],
                )
            )  # fmt: skip
        return attempts

    async def finish_attempts(
        self, rows: Sequence[tuple[int, int, DeliveryState, datetime, str | None]]
    ) -> None:
        """Close running rows (job id, delivery id, state, time, bounce text), one statement:
        each row "done", or "cancelled" when the delivery is suppressed, and its delivery's
        state set. A row claimed by this store is finished only under its claim token."""
        if not rows:
            return
        tokens = self._claim_tokens()
        params: list[list[Any]] = [
            [r[0] for r in rows],
            [r[1] for r in rows],
            [job_state_after(r[2]).value for r in rows],
            [to_micros(r[3]) for r in rows],
            [tokens.get(r[0]) for r in rows],
            [r[2].value for r in rows],
            [r[4] for r in rows],
        ]

        async def work(conn: asyncpg.Connection) -> list[asyncpg.Record]:
            done = await conn.fetch(_FINISH, *params)
            delivered = [(int(r[3]), int(r[1])) for r in done if r[2] == DeliveryState.DELIVERED.value]
            await self._outbox_delivered(conn, delivered)
            return done

        done = await self._in_transaction(work)
        finished = {int(r[0]) for r in done}
        for job_id, delivery_id, *_ in rows:
            tokens.pop(job_id, None)
            if job_id not in finished:
                log.warning("event=lease_lost", extra=kv(job=job_id, delivery=delivery_id, node=self.node))

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
        params = (delivery_id, attempt, to_micros(due_at), to_micros(now), event_id, bounce_text)
        async with self._transaction() as conn:
            created = await conn.fetchval(numbered(SCHEDULE_JOB) + " RETURNING true", *params) is not None
            if created:
                await conn.execute(numbered(MARK_SCHEDULED), bounce_text, delivery_id)
            if event_id is not None:
                await conn.execute(
                    numbered(SET_RESEND_STATE), "scheduled" if created else "duplicate", event_id
                )
        return created

    async def give_up_delivery(
        self,
        delivery_id: int,
        now: datetime,
        bounce_text: str,
        event_id: int | None = None,
        state: DeliveryState = DeliveryState.UNDELIVERED,
    ) -> bool:
        """Record the one non-delivery event of a delivery (no-op if it exists) and close the
        delivery and the deciding event. True when the non-delivery is new."""
        now_us = to_micros(now)
        async with self._transaction() as conn:
            created = (
                rowcount(await conn.execute(numbered(RECORD_NON_DELIVERY), now_us, bounce_text, delivery_id))
                > 0
            )
            if created:
                await self._outbox_non_delivery(conn, delivery_id)
            await conn.execute(numbered(CLOSE_DELIVERY), state.value, bounce_text, delivery_id)
            await conn.execute(numbered(CANCEL_PENDING), now_us, delivery_id)
            if event_id is not None:
                await conn.execute(numbered(SET_RESEND_STATE), "gave_up", event_id)
        return created

    async def mark_resend_event(self, event_id: int, state: str) -> None:
        await self._execute(numbered(SET_RESEND_STATE), state, event_id)
