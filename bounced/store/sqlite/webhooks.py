"""The webhook outbox: events written with the change they report, and per-hook delivery state.

Other mixins call `_outbox_events(conn, rows)` inside their own transaction, so an event
exists exactly when its change committed. Writing is on only while hooks are configured
(`enable_webhook_outbox`): with no hook, nothing would ever read or prune the rows.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiosqlite

from bounced.model import WebhookDelivery, WebhookEvent, WebhookState
from bounced.store.rules import (
    OUTBOX_COLUMNS,
    guard_event_fields,
    plain_policy_rows,
    webhook_rows_for_bounces,
)
from bounced.store.sqlite.connection import SQLiteConnection, from_micros, from_micros_opt, to_micros

__all__ = ["OUTBOX_COLUMNS", "WebhookBacklog", "WebhooksMixin", "webhook_rows_for_bounces"]

# Statements both stores run (PostgreSQL numbers the marks: store/postgres/sql.numbered).
POLICY_EVENT = (
    f"INSERT INTO webhook_events ({OUTBOX_COLUMNS}) SELECT ?, ?, ?, e.kind, COALESCE(?, e.reason),"
    " e.status, e.reply_code, COALESCE(?, e.diagnostic), e.mailing_id, e.from_domain, e.sending_ip,"
    " e.signed, e.id, e.delivery_id FROM bounce_events e WHERE e.id = ?"
)
GUARD_TRIPPED_EVENT = (
    "INSERT INTO webhook_events (type, at, recipient, kind, diagnostic, sending_ip, detail)"
    " VALUES ('guard_tripped', ?, '', 'hard', ?, ?, ?)"
)
NON_DELIVERY_EVENT = (
    f"INSERT INTO webhook_events ({OUTBOX_COLUMNS})"
    " SELECT 'non_delivery', at, recipient, NULL, NULL, NULL, NULL, last_bounce_text,"
    " mailing_id, from_domain, sending_ip, 1, NULL, delivery_id"
    " FROM non_deliveries WHERE delivery_id = ?"
)
# Events whose every delivery is finished, recorded before ?, and given to every hook.
PRUNABLE_EVENTS = (
    "SELECT id FROM webhook_events WHERE at < ? AND id NOT IN"
    " (SELECT event_id FROM webhook_deliveries WHERE state = 'pending')"
    " AND id <= (SELECT COALESCE(MIN(last_event_id), 0) FROM webhook_cursors)"
)
_EVENT_SELECT = "e.id, e." + ", e.".join(c.strip() for c in OUTBOX_COLUMNS.split(",")) + ", e.detail"
_DELIVERY_SELECT = (
    f"d.id, d.hook, d.state, d.attempts, d.next_at, d.created_at, d.done_at, d.last_error, {_EVENT_SELECT}"
)

# A delivery that heads its recipient's queue for its hook (per-recipient order).
_HEAD = (
    "d.id = (SELECT MIN(h.id) FROM webhook_deliveries h"
    " WHERE h.hook = d.hook AND h.recipient = d.recipient AND h.state = 'pending')"
)


@dataclass(frozen=True, slots=True)
class WebhookBacklog:
    pending: int  # deliveries not yet delivered or dead-lettered
    oldest_at: datetime | None  # the time of the oldest such event


def _event(row: Sequence[Any]) -> WebhookEvent:
    return WebhookEvent(
        id=int(row[0]), type=row[1], at=from_micros(row[2]), recipient=row[3], kind=row[4],
        reason=row[5], status=row[6], reply_code=row[7], diagnostic=row[8], mailing_id=row[9],
        from_domain=row[10], sending_ip=row[11], signed=bool(row[12]), bounce_event_id=row[13],
        delivery_id=row[14], detail=json.loads(row[15]) if row[15] else None,
    )  # fmt: skip


def _delivery(row: Sequence[Any]) -> WebhookDelivery:
    return WebhookDelivery(
        id=int(row[0]), hook=row[1], state=WebhookState(row[2]), attempts=int(row[3]),
        next_at=from_micros(row[4]), created_at=from_micros(row[5]), done_at=from_micros_opt(row[6]),
        last_error=row[7], event=_event(row[8:]),
    )  # fmt: skip


def _in(values: Collection[str]) -> str:
    return ", ".join("?" * len(values))


class WebhooksMixin(SQLiteConnection):
    _webhook_outbox = False

    def enable_webhook_outbox(self, enabled: bool) -> None:
        """Write webhook events from now on (the daemon and CLI do so when hooks are configured)."""
        self._webhook_outbox = enabled

    async def _outbox_events(self, conn: aiosqlite.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        if self._webhook_outbox and rows:
            await conn.executemany(
                f"INSERT INTO webhook_events ({OUTBOX_COLUMNS}) VALUES ({', '.join('?' * 14)})",
                rows,
            )

    async def _outbox_policy(
        self,
        conn: aiosqlite.Connection,
        event_type: str,
        now_us: int,
        pairs: Sequence[tuple[str, int | None]],
        reason: str | None = None,
        diagnostic: str | None = None,
    ) -> None:
        """`event_type` for changes the policy made outside a bounce's recording, given as
        (address, bounce event id or None): the bounce's fields, its reason and diagnostic
        unless `reason`/`diagnostic` are given; kind "policy" when there is no bounce."""
        if not self._webhook_outbox:
            return
        with_event = [(event_type, now_us, a, reason, diagnostic, i) for a, i in pairs if i is not None]
        await conn.executemany(POLICY_EVENT, with_event)
        plain = [a for a, i in pairs if i is None]
        await self._outbox_events(conn, plain_policy_rows(event_type, now_us, plain, reason, diagnostic))

    async def _outbox_guard_tripped(
        self, conn: aiosqlite.Connection, now_us: int, detail: Mapping[str, Any]
    ) -> None:
        """The mass-failure guard's alert: no recipient; `detail` is the payload's `guard`."""
        if self._webhook_outbox:
            await conn.execute(GUARD_TRIPPED_EVENT, (now_us, *guard_event_fields(detail)))

    async def _outbox_select(self, conn: aiosqlite.Connection, select: str, params: Sequence[Any]) -> None:
        """Outbox events made by `select` (its columns in OUTBOX_COLUMNS order)."""
        if self._webhook_outbox:
            await conn.execute(f"INSERT INTO webhook_events ({OUTBOX_COLUMNS}) {select}", params)

    async def _outbox_non_delivery(self, conn: aiosqlite.Connection, delivery_id: int) -> None:
        if self._webhook_outbox:
            await conn.execute(NON_DELIVERY_EVENT, (delivery_id,))

    async def _outbox_delivered(self, conn: aiosqlite.Connection, rows: Sequence[tuple[int, int]]) -> None:
        """`delivered` events for (time in µs, delivery id): the next hop answered 250."""
        for params in rows:
            await self._outbox_select(
                conn,
                "SELECT 'delivered', ?1, d.recipient, 'delivered', NULL, NULL, NULL, NULL, m.mailing_id,"
                " m.from_domain, d.sending_ip, 1, NULL, d.id"
                " FROM deliveries d JOIN outbound_messages m ON m.id = d.message_id WHERE d.id = ?2",
                params,
            )

    async def materialize_webhook_deliveries(self, hook: str, types: Collection[str], now: datetime) -> int:
        """Copy the events written since the last call into `hook`'s delivery queue (those of
        `types`); a hook seen for the first time starts with the events at or after `now`. Returns
        how many."""
        now_us = to_micros(now)
        async with self._transaction() as conn:
            found = await (
                await conn.execute("SELECT last_event_id FROM webhook_cursors WHERE hook = ?", (hook,))
            ).fetchone()
            if found is None:  # new: from the events of `now` on (a start that waited for the store)
                [(before,)] = await conn.execute_fetchall(
                    "SELECT COALESCE(MAX(id), 0) FROM webhook_events WHERE at < ?", (now_us,)
                )
                await conn.execute(
                    "INSERT INTO webhook_cursors (hook, last_event_id) VALUES (?, ?)", (hook, before)
                )
                last = int(before)
            else:
                last = int(found[0])
            [(newest,)] = await conn.execute_fetchall("SELECT COALESCE(MAX(id), 0) FROM webhook_events")
            if newest <= last:
                return 0
            cursor = await conn.execute(
                "INSERT INTO webhook_deliveries (hook, event_id, recipient, next_at, created_at)"
                " SELECT ?, id, recipient, ?, ? FROM webhook_events"
                f" WHERE id > ? AND id <= ? AND type IN ({_in(types)})"
                " ORDER BY id",
                (hook, now_us, now_us, last, newest, *types),
            )
            await conn.execute("UPDATE webhook_cursors SET last_event_id = ? WHERE hook = ?", (newest, hook))
            return cursor.rowcount

    async def due_webhook_deliveries(self, hook: str, now: datetime, limit: int) -> list[WebhookDelivery]:
        """Pending deliveries due now that head their recipient's queue (per-recipient order:
        a later event waits until the earlier one is delivered or dead-lettered), oldest first."""
        rows = await self._fetchall(
            f"SELECT {_DELIVERY_SELECT} FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id"
            f" WHERE d.hook = ? AND d.state = 'pending' AND d.next_at <= ? AND {_HEAD}"
            " ORDER BY d.id LIMIT ?",
            (hook, to_micros(now), limit),
        )
        return [_delivery(r) for r in rows]

    async def next_webhook_due(self, hook: str) -> datetime | None:
        # Only the heads of the recipients' queues: the others wait for them, not for a time.
        row = await self._fetchone(
            "SELECT MIN(d.next_at) FROM webhook_deliveries d WHERE d.hook = ? AND d.state = 'pending'"
            f" AND {_HEAD}",
            (hook,),
        )
        return from_micros_opt(row[0]) if row else None

    async def finish_webhook_deliveries(
        self, rows: Sequence[tuple[int, WebhookState, int, datetime, datetime | None, str | None]]
    ) -> None:
        """Per delivery (id, state, attempts, next_at, done_at, last error), in one transaction."""
        params = [
            (
                state.value,
                attempts,
                to_micros(next_at),
                None if done is None else to_micros(done),
                error,
                ident,
            )
            for ident, state, attempts, next_at, done, error in rows
        ]

        async def update(conn: aiosqlite.Connection) -> None:
            await conn.executemany(
                "UPDATE webhook_deliveries SET state = ?, attempts = ?, next_at = ?, done_at = ?,"
                " last_error = ? WHERE id = ?",
                params,
            )

        if params:
            await self._group_commit(update)

    async def webhook_backlog(self, hook: str | None = None) -> WebhookBacklog:
        sql = (
            "SELECT COUNT(*), MIN(e.at) FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id"
            " WHERE d.state = 'pending'"
        )
        params: tuple[Any, ...] = ()
        if hook is not None:
            sql += " AND d.hook = ?"
            params = (hook,)
        row = await self._fetchone(sql, params)
        assert row is not None
        return WebhookBacklog(int(row[0]), from_micros_opt(row[1]))

    async def list_webhook_deliveries(
        self,
        hook: str | None = None,
        state: WebhookState | None = None,
        since: datetime | None = None,
        limit: int = 1000,
    ) -> list[WebhookDelivery]:
        where: list[str] = ["1"]
        params: list[Any] = []
        if hook is not None:
            where.append("d.hook = ?")
            params.append(hook)
        if state is not None:
            where.append("d.state = ?")
            params.append(state.value)
        if since is not None:
            where.append("e.at >= ?")
            params.append(to_micros(since))
        rows = await self._fetchall(
            f"SELECT {_DELIVERY_SELECT} FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id"
            f" WHERE {' AND '.join(where)} ORDER BY d.id LIMIT ?",
            (*params, limit),
        )
        return [_delivery(r) for r in rows]

    async def get_webhook_event(self, event_id: int) -> WebhookEvent | None:
        rows = await self._fetchall(
            f"SELECT {_EVENT_SELECT} FROM webhook_events e WHERE e.id = ?", (event_id,)
        )
        return _event(rows[0]) if rows else None

    async def webhook_deliveries_for(self, event_id: int) -> list[WebhookDelivery]:
        rows = await self._fetchall(
            f"SELECT {_DELIVERY_SELECT} FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id"
            " WHERE d.event_id = ? ORDER BY d.id",
            (event_id,),
        )
        return [_delivery(r) for r in rows]

    async def replay_webhooks(self, hook: str, types: Collection[str], since: datetime, now: datetime) -> int:
        """Queue again, for `hook`, every event of `types` recorded at or after `since` that it
        has already been given (delivered, dead-lettered or pending); returns how many."""
        now_us = to_micros(now)
        async with self._transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO webhook_deliveries (hook, event_id, recipient, next_at, created_at)"
                " SELECT ?, e.id, e.recipient, ?, ? FROM webhook_events e"
                " WHERE e.at >= ?"
                " AND e.id <= COALESCE((SELECT last_event_id FROM webhook_cursors WHERE hook = ?), 0)"
                f" AND e.type IN ({_in(types)}) ORDER BY e.id",
                (hook, now_us, now_us, to_micros(since), hook, *types),
            )
            return cursor.rowcount

    async def prune_webhooks(self, before: datetime) -> int:
        """Drop events recorded before `before` whose every delivery is finished; returns how many."""
        before_us = to_micros(before)
        async with self._transaction() as conn:
            done = PRUNABLE_EVENTS
            await conn.execute(f"DELETE FROM webhook_deliveries WHERE event_id IN ({done})", (before_us,))
            cursor = await conn.execute(f"DELETE FROM webhook_events WHERE id IN ({done})", (before_us,))
            return cursor.rowcount
