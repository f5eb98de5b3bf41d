"""What the bounce policy reads beyond one event (an address's soft bounces and last
delivery, stored events by period) and the suppressions it decides (soft thresholds).
The decisions are made in `apply/thresholds.py` and `apply/simulate.py`; this persists."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from bounced.model import BounceEvent
from bounced.store.rules import policy_audit_reason
from bounced.store.sqlite.bounces import _EVENT_COLUMNS, _row_to_event
from bounced.store.sqlite.connection import from_micros_opt, to_micros
from bounced.store.sqlite.guard import AUDIT
from bounced.store.sqlite.webhooks import WebhooksMixin

__all__ = ["POLICY_SUPPRESSION", "PolicyMixin"]

# Run by both stores (PostgreSQL numbers the marks: store/postgres/sql.numbered).
POLICY_SUPPRESSION = (
    "INSERT INTO suppressions (address, reason, created_at, created_by, bounce_event_id, note)"
    " VALUES (?, ?, ?, 'policy', ?, ?) ON CONFLICT (address) DO NOTHING"
)


class PolicyMixin(WebhooksMixin):
    async def last_delivered_at(self, address: str) -> datetime | None:
        """The latest successful delivery to `address`: our next hop's 250, or a success DSN."""
        key = self._address(address)
        column = "lower(recipient)" if self.fold_local_case else "recipient"
        ours = await self._fetchone(
            f"SELECT MAX(last_attempt_at) FROM deliveries WHERE {column} = ? AND state = 'delivered'", (key,)
        )
        dsn = await self._fetchone(
            "SELECT MAX(received_at) FROM bounce_events WHERE recipient = ? AND kind = 'delivered'", (key,)
        )
        times = [t for t in (ours[0] if ours else None, dsn[0] if dsn else None) if t is not None]
        return from_micros_opt(max(times)) if times else None

    async def soft_bounced_addresses(self, since: datetime | None = None) -> list[str]:
        """Addresses with soft bounces (received since `since`), for retroactive evaluation."""
        rows = await self._fetchall(
            "SELECT DISTINCT recipient FROM bounce_events WHERE kind = 'soft' AND received_at >= ?"
            " ORDER BY recipient",
            (0 if since is None else to_micros(since),),
        )
        return [r[0] for r in rows]

    async def suppress_by_policy(
        self, address: str, reason: str, event_id: int | None, now: datetime, note: str
    ) -> bool:
        """Suppress `address` by a policy decision (actor "policy", audited, its
        `suppression_added` webhook event in the same transaction); False when it was
        already suppressed."""
        key, now_us = self._address(address), to_micros(now)
        async with self._transaction() as conn:
            cursor = await conn.execute(POLICY_SUPPRESSION, (key, reason, now_us, event_id, note))
            if cursor.rowcount == 0:
                return False
            await conn.execute(
                AUDIT, (now_us, "policy", "suppression.add", key, policy_audit_reason(reason, note))
            )
            await self._outbox_policy(conn, "suppression_added", now_us, [(key, event_id)], reason)
        return True

    async def events_between(self, start: datetime, end: datetime) -> AsyncIterator[BounceEvent]:
        """Every event received in [start, end), oldest first; streamed in pages."""
        after_us, after_id, end_us = to_micros(start), 0, to_micros(end)
        while True:
            rows = await self._fetchall(
                f"SELECT {_EVENT_COLUMNS} FROM bounce_events WHERE (received_at, id) > (?, ?)"
                " AND received_at < ? ORDER BY received_at, id LIMIT 1000",
                (after_us, after_id, end_us),
            )
            for row in rows:
                yield _row_to_event(row)
            if len(rows) < 1000:
                return
            after_us, after_id = to_micros(_row_to_event(rows[-1]).received_at), int(rows[-1][0])
