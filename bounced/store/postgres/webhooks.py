"""The webhook outbox on PostgreSQL (store/sqlite/webhooks.py is the model).

Several nodes, one outbox:

- Event ids in commit order: writers take a shared advisory lock before drawing an id (the
  column default, migration 0004) and `materialize_webhook_deliveries` copies under the
  exclusive one, so a cursor never moves past an id that commits later.
- One dispatcher per hook at a time: a node dispatches a hook only while it holds the
  session advisory lock of that hook on a connection of its own (`_owns_hook`). The lock
  goes with the session, so a node that dies hands the hook over; the other nodes see no
  due delivery for it meanwhile. Per-recipient order is kept and no two nodes POST the
  same delivery at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from bounced.logfmt import kv
from bounced.model import WebhookDelivery, WebhookEvent, WebhookState
from bounced.store.postgres.connection import PostgresConnection
from bounced.store.postgres.sql import numbered, rowcount
from bounced.store.rules import OUTBOX_COLUMNS, guard_event_fields, plain_policy_rows
from bounced.store.sqlite.webhooks import (
    _DELIVERY_SELECT,
    _EVENT_SELECT,
    _HEAD,
    GUARD_TRIPPED_EVENT,
    NON_DELIVERY_EVENT,
    POLICY_EVENT,
    PRUNABLE_EVENTS,
    WebhookBacklog,
    _delivery,
    _event,
)
from bounced.store.timecodec import from_micros_opt, to_micros

__all__ = ["WebhooksMixin"]

log = logging.getLogger("bounced.store")

# Advisory lock keys (two int4 keys: a space of their own beside the migration's bigint key).
_ORDER_LOCK = (1651470670, 1)  # ("boun", 1): writers shared, materialize exclusive (0004)
_HOOK_LOCK_CLASS = 1651470671  # (class, hashtext(hook)): the node dispatching a hook
_INSERT = f"INSERT INTO webhook_events ({OUTBOX_COLUMNS}) VALUES ({', '.join(f'${i}' for i in range(1, 15))})"


class WebhooksMixin(PostgresConnection):
    _webhook_outbox = False
    _hook_conn: asyncpg.Connection | None = None
    _hooks_owned: frozenset[str] = frozenset()
    _hook_gate: asyncio.Lock | None = None

    def enable_webhook_outbox(self, enabled: bool) -> None:
        """Write webhook events from now on (the daemon and CLI do so when hooks are configured)."""
        self._webhook_outbox = enabled

    # --- writing events, inside the caller's transaction -----------------------------

    async def _outbox_events(self, conn: asyncpg.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        if self._webhook_outbox and rows:
            await conn.executemany(_INSERT, rows)

    async def _outbox_policy(
        self,
        conn: asyncpg.Connection,
        event_type: str,
        now_us: int,
        pairs: Sequence[tuple[str, int | None]],
        reason: str | None = None,
        diagnostic: str | None = None,
    ) -> None:
        """`event_type` for changes the policy made outside a bounce's recording (see the
        SQLite store): the bounce's fields, or kind "policy" when there is no bounce."""
        if not self._webhook_outbox:
            return
        with_event = [(event_type, now_us, a, reason, diagnostic, i) for a, i in pairs if i is not None]
        if with_event:
            await conn.executemany(numbered(POLICY_EVENT), with_event)
        plain = [a for a, i in pairs if i is None]
        await self._outbox_events(conn, plain_policy_rows(event_type, now_us, plain, reason, diagnostic))

    async def _outbox_guard_tripped(
        self, conn: asyncpg.Connection, now_us: int, detail: Mapping[str, Any]
    ) -> None:
        if self._webhook_outbox:
            await conn.execute(numbered(GUARD_TRIPPED_EVENT), now_us, *guard_event_fields(detail))

    async def _outbox_non_delivery(self, conn: asyncpg.Connection, delivery_id: int) -> None:
        if self._webhook_outbox:
            await conn.execute(numbered(NON_DELIVERY_EVENT), delivery_id)

    async def _outbox_delivered(self, conn: asyncpg.Connection, rows: Sequence[tuple[int, int]]) -> None:
        """`delivered` events for (time in µs, delivery id): the next hop answered 250."""
        if self._webhook_outbox and rows:
            await conn.execute(
                f"INSERT INTO webhook_events ({OUTBOX_COLUMNS})"
                " SELECT 'delivered', v.at, d.recipient, 'delivered', NULL, NULL, NULL, NULL, m.mailing_id,"
                " m.from_domain, d.sending_ip, 1, NULL, d.id"
                " FROM unnest($1::bigint[], $2::bigint[]) WITH ORDINALITY AS v (at, delivery, n)"
                " JOIN deliveries d ON d.id = v.delivery JOIN outbound_messages m ON m.id = d.message_id"
                " ORDER BY v.n",
                [r[0] for r in rows],
                [r[1] for r in rows],
            )

    # --- the dispatcher's side -------------------------------------------------------

    async def materialize_webhook_deliveries(self, hook: str, types: Collection[str], now: datetime) -> int:
        """Copy the events committed since the last call into `hook`'s delivery queue (those
        of `types`); a hook seen for the first time starts with the events at or after `now`."""
        now_us = to_micros(now)
        row = await self._fetchrow(
            "SELECT (SELECT last_event_id FROM webhook_cursors WHERE hook = $1),"
            " (SELECT COALESCE(MAX(id), 0) FROM webhook_events)",
            hook,
        )
        if row is not None and row[0] is not None and row[1] <= row[0]:
            return 0  # nothing new: no need to stop the writers for a moment

        async def work(conn: asyncpg.Connection) -> int:
            await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", *_ORDER_LOCK)
            last = await conn.fetchval(
                "SELECT last_event_id FROM webhook_cursors WHERE hook = $1 FOR UPDATE", hook
            )
            newest = int(await conn.fetchval("SELECT COALESCE(MAX(id), 0) FROM webhook_events"))
            if last is None:  # new: from the events of `now` on (a start that waited for the store)
                last = int(
                    await conn.fetchval(
                        "SELECT COALESCE(MAX(id), 0) FROM webhook_events WHERE at < $1", now_us
                    )
                )
                await conn.execute(
                    "INSERT INTO webhook_cursors (hook, last_event_id) VALUES ($1, $2) ON CONFLICT"
                    " (hook) DO NOTHING",
                    hook,
                    last,
                )
            if newest <= last:
                return 0
            status = await conn.execute(
                "INSERT INTO webhook_deliveries (hook, event_id, recipient, next_at, created_at)"
                " SELECT $1, id, recipient, $2, $2 FROM webhook_events"
                " WHERE id > $3 AND id <= $4 AND type = ANY($5::text[]) ORDER BY id",
                hook,
                now_us,
                last,
                newest,
                list(types),
            )
            await conn.execute("UPDATE webhook_cursors SET last_event_id = $1 WHERE hook = $2", newest, hook)
            return rowcount(status)

        return await self._in_transaction(work)

    async def _owns_hook(self, hook: str) -> bool:
        """True while this node is the one dispatching `hook` (see the module docstring)."""
        if self._closed:
            return False
        if self._hook_gate is None:
            self._hook_gate = asyncio.Lock()
        async with self._hook_gate:  # one statement at a time on the lock's connection
            return await self._check_hook(hook)

    async def _check_hook(self, hook: str) -> bool:
        try:
            if self._hook_conn is None or self._hook_conn.is_closed():
                self._hooks_owned = frozenset()
                self._hook_conn = await asyncpg.connect(
                    self._config.dsn or None, timeout=self._config.busy_timeout
                )
            if hook in self._hooks_owned:
                await self._hook_conn.fetchval("SELECT 1")  # the session (and its lock) still there
                return True
            got = await self._hook_conn.fetchval(
                "SELECT pg_try_advisory_lock($1, hashtext($2))", _HOOK_LOCK_CLASS, hook
            )
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("event=webhook_lock_lost", extra=kv(hook=hook, error=f"{type(exc).__name__}: {exc}"))
            await self._close_hook_conn()
            return False
        if got:
            self._hooks_owned = self._hooks_owned | {hook}
            log.info("event=webhook_dispatcher", extra=kv(hook=hook, node=self.node))
        return bool(got)

    async def _close_hook_conn(self) -> None:
        conn, self._hook_conn, self._hooks_owned = self._hook_conn, None, frozenset()
        if conn is not None and not conn.is_closed():
            try:
                await conn.close(timeout=2)
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
                conn.terminate()

    async def close(self) -> None:
        await self._close_hook_conn()  # hands the hooks over to the other nodes
        await super().close()

    async def due_webhook_deliveries(self, hook: str, now: datetime, limit: int) -> list[WebhookDelivery]:
        """Pending deliveries due now that head their recipient's queue, oldest first; none
        while another node dispatches `hook`."""
        if not await self._owns_hook(hook):
            return []
        rows = await self._fetch(
            f"SELECT {_DELIVERY_SELECT} FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id"
            f" WHERE d.hook = $1 AND d.state = 'pending' AND d.next_at <= $2 AND {_HEAD}"
            " ORDER BY d.id LIMIT $3",
            hook,
            to_micros(now),
            limit,
        )
        return [_delivery(r) for r in rows]

    async def next_webhook_due(self, hook: str) -> datetime | None:
        if not await self._owns_hook(hook):
            return None  # another node's: look again at the next poll
        value = await self._fetchval(
            "SELECT MIN(d.next_at) FROM webhook_deliveries d WHERE d.hook = $1 AND d.state ="
            f" 'pending' AND {_HEAD}",
            hook,
        )
        return from_micros_opt(value)

    async def finish_webhook_deliveries(
        self, rows: Sequence[tuple[int, WebhookState, int, datetime, datetime | None, str | None]]
    ) -> None:
        """Per delivery (id, state, attempts, next_at, done_at, last error), one statement."""
        if not rows:
            return
        columns = list(zip(*rows, strict=True))
        async with self._transaction() as conn:
            await conn.execute(
                "UPDATE webhook_deliveries d SET state = v.state, attempts = v.attempts, next_at = v.next_at,"
                " done_at = v.done_at, last_error = v.error"
                " FROM unnest($1::bigint[], $2::text[], $3::int[], $4::bigint[], $5::bigint[], $6::text[])"
                " AS v (id, state, attempts, next_at, done_at, error) WHERE d.id = v.id",
                list(columns[0]),
                [s.value for s in columns[1]],
                list(columns[2]),
                [to_micros(t) for t in columns[3]],
                [None if t is None else to_micros(t) for t in columns[4]],
                list(columns[5]),
            )

    # --- reading ---------------------------------------------------------------------

    async def webhook_backlog(self, hook: str | None = None) -> WebhookBacklog:
        row = await self._fetchrow(
            "SELECT COUNT(*), MIN(e.at) FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id"
            " WHERE d.state = 'pending' AND ($1::text IS NULL OR d.hook = $1)",
            hook,
        )
        assert row is not None
        return WebhookBacklog(int(row[0]), from_micros_opt(row[1]))

    async def list_webhook_deliveries(
        self,
        hook: str | None = None,
        state: WebhookState | None = None,
        since: datetime | None = None,
        limit: int = 1000,
    ) -> list[WebhookDelivery]:
        rows = await self._fetch(
            f"SELECT {_DELIVERY_SELECT} FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id"
            " WHERE ($1::text IS NULL OR d.hook = $1) AND ($2::text IS NULL OR d.state = $2)"
            " AND ($3::bigint IS NULL OR e.at >= $3) ORDER BY d.id LIMIT $4",
            hook,
            None if state is None else state.value,
            None if since is None else to_micros(since),
            limit,
        )
        return [_delivery(r) for r in rows]

    async def get_webhook_event(self, event_id: int) -> WebhookEvent | None:
        row = await self._fetchrow(f"SELECT {_EVENT_SELECT} FROM webhook_events e WHERE e.id = $1", event_id)
        return None if row is None else _event(row)

    async def webhook_deliveries_for(self, event_id: int) -> list[WebhookDelivery]:
        rows = await self._fetch(
            f"SELECT {_DELIVERY_SELECT} FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id"
            " WHERE d.event_id = $1 ORDER BY d.id",
            event_id,
        )
        return [_delivery(r) for r in rows]

    # --- admin -----------------------------------------------------------------------

    async def replay_webhooks(self, hook: str, types: Collection[str], since: datetime, now: datetime) -> int:
        """Queue again, for `hook`, every event of `types` recorded at or after `since` that it
        has already been given; returns how many."""
        now_us = to_micros(now)
        async with self._transaction() as conn:
            status = await conn.execute(
                "INSERT INTO webhook_deliveries (hook, event_id, recipient, next_at, created_at)"
                " SELECT $1, e.id, e.recipient, $2, $2 FROM webhook_events e"
                " WHERE e.at >= $3"
                " AND e.id <= COALESCE((SELECT last_event_id FROM webhook_cursors WHERE hook = $1), 0)"
                " AND e.type = ANY($4::text[]) ORDER BY e.id",
                hook,
                now_us,
                to_micros(since),
                list(types),
            )
        return rowcount(status)

    async def prune_webhooks(self, before: datetime) -> int:
        """Drop events recorded before `before` whose every delivery is finished; returns how many."""
        done = numbered(PRUNABLE_EVENTS)
        before_us = to_micros(before)
        async with self._transaction() as conn:
            await conn.execute(f"DELETE FROM webhook_deliveries WHERE event_id IN ({done})", before_us)
            status = await conn.execute(f"DELETE FROM webhook_events WHERE id IN ({done})", before_us)
        return rowcount(status)
