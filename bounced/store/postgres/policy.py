"""What the bounce policy reads beyond one event, and the suppressions it decides, on
PostgreSQL (store/sqlite/policy.py is the model)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from bounced.model import BounceEvent
from bounced.store.postgres.sql import numbered
from bounced.store.postgres.webhooks import WebhooksMixin
from bounced.store.recording import EVENT_COLUMNS, row_to_event
from bounced.store.rules import policy_audit_reason
from bounced.store.sqlite.guard import AUDIT
from bounced.store.sqlite.policy import POLICY_SUPPRESSION
from bounced.store.timecodec import from_micros_opt, to_micros

__all__ = ["PolicyMixin"]


class PolicyMixin(WebhooksMixin):
    async def last_delivered_at(self, address: str) -> datetime | None:
        """The latest successful delivery to `address`: our next hop's 250, or a success DSN."""
        column = "lower(recipient)" if self.fold_local_case else "recipient"
        value = await self._fetchval(
            f"SELECT GREATEST((SELECT MAX(last_attempt_at) FROM deliveries WHERE {column} = $1"
            " AND state = 'delivered'),"
            " (SELECT MAX(received_at) FROM bounce_events WHERE recipient = $1 AND kind = 'delivered'))",
            self._address(address),
        )
        return from_micros_opt(value)

    async def soft_bounced_addresses(self, since: datetime | None = None) -> list[str]:
        rows = await self._fetch(
            "SELECT DISTINCT recipient FROM bounce_events WHERE kind = 'soft' AND received_at >= $1"
            " ORDER BY recipient",
            0 if since is None else to_micros(since),
        )
        return [r[0] for r in rows]

    async def suppress_by_policy(
        self, address: str, reason: str, event_id: int | None, now: datetime, note: str
    ) -> bool:
        """Suppress `address` by a policy decision (actor "policy", audited, its webhook event
        in the same transaction); False when it was already suppressed (on any node)."""
        key, now_us = self._address(address), to_micros(now)
        async with self._transaction() as conn:
            insert = numbered(POLICY_SUPPRESSION) + " RETURNING address"
            if await conn.fetchval(insert, key, reason, now_us, event_id, note) is None:
                return False
            audit = (now_us, "policy", "suppression.add", key, policy_audit_reason(reason, note))
            await conn.execute(numbered(AUDIT), *audit)
            await self._outbox_policy(conn, "suppression_added", now_us, [(key, event_id)], reason)
        return True

    async def events_between(self, start: datetime, end: datetime) -> AsyncIterator[BounceEvent]:
        """Every event received in [start, end), oldest first; streamed in pages."""
        after_us, after_id, end_us = to_micros(start), 0, to_micros(end)
        while True:
            rows = await self._fetch(
                f"SELECT {EVENT_COLUMNS} FROM bounce_events WHERE (received_at, id) > ($1, $2)"
                " AND received_at < $3 ORDER BY received_at, id LIMIT 1000",
                after_us,
                after_id,
                end_us,
            )
            for row in rows:
                yield row_to_event(row)
            if len(rows) < 1000:
                return
            after_us, after_id = int(rows[-1]["received_at"]), int(rows[-1]["id"])
