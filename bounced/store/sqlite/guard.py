"""The mass-failure guard's state and the quarantine: persisted here, decided in
`apply/guard.py` (which bounces to hold) and by the admin (confirm or release)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import aiosqlite

from bounced.model import QuarantineEntry
from bounced.store.rules import confirm_audit, guard_alert_detail, guard_audit, guard_why, release_audit
from bounced.store.sqlite.connection import from_micros, from_micros_opt, to_micros
from bounced.store.sqlite.webhooks import WebhooksMixin

__all__ = ["GuardMixin"]

Group = tuple[str, str, str]  # (scope, key, text_key): apply.guard.GuardGroup

_COLUMNS = (
    "id, address, bounce_event_id, reason, recipient_domain, sending_ip, text_key, created_at, state,"
    " decided_at, decided_by"
)
# Statements both stores run (PostgreSQL numbers the marks: store/postgres/sql.numbered).
AUDIT = "INSERT INTO audit_log (at, actor, action, address, reason) VALUES (?, ?, ?, ?, ?)"
RECORD_TRIP = (
    "INSERT INTO guard_trips (scope, key, text_key, tripped_at, last_at, held) VALUES (?, ?, ?, ?, ?, ?)"
)
HOLD = (
    "INSERT INTO quarantine (address, bounce_event_id, reason, recipient_domain, sending_ip, text_key,"
    " created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (bounce_event_id) DO NOTHING"
)
CONFIRM_SUPPRESSION = (
    "INSERT INTO suppressions (address, reason, created_at, created_by, bounce_event_id, note)"
    " VALUES (?, ?, ?, ?, ?, 'confirmed from quarantine') ON CONFLICT (address) DO NOTHING"
)
_GROUP_FILTER = {"domain": "recipient_domain = ?", "ip": "sending_ip = ?"}


def _row(r: Sequence[Any]) -> QuarantineEntry:
    return QuarantineEntry(
        int(r[0]),
        r[1],
        int(r[2]),
        r[3],
        r[4],
        r[5],
        r[6],
        from_micros(r[7]),
        r[8],
        from_micros_opt(r[9]),
        r[10],
    )


def _filter(domain: str | None, ids: Sequence[int] | None) -> tuple[str, list[Any]]:
    sql, params = " AND state = 'held'", list[Any]()
    if domain is not None:
        sql += " AND recipient_domain = ?"
        params.append(domain.lower())
    if ids:
        sql += f" AND id IN ({', '.join('?' * len(ids))})"
        params.extend(ids)
    return sql, params


async def _decide(
    conn: aiosqlite.Connection,
    state: str,
    actor: str,
    now_us: int,
    domain: str | None,
    ids: Sequence[int] | None,
) -> list[Any]:
    """Mark the held entries that match `released` or `confirmed`; returns their rows
    (id, address, bounce_event_id, reason)."""
    where, params = _filter(domain, ids)
    rows = list(
        await conn.execute_fetchall(
            f"SELECT id, address, bounce_event_id, reason FROM quarantine WHERE 1 = 1{where}", params
        )
    )
    await conn.executemany(
        "UPDATE quarantine SET state = ?, decided_at = ?, decided_by = ? WHERE id = ?",
        [(state, now_us, actor, r[0]) for r in rows],
    )
    return rows


class GuardMixin(WebhooksMixin):
    async def guard_state(
        self, groups: Iterable[Group], since: datetime, signed_only: bool = False
    ) -> tuple[dict[Group, int], set[Group]]:
        """Per group: hard bounces recorded since `since` (`signed_only`: signed ones, as only
        those may suppress while `verp.unsigned_policy` is "record"), and whether it tripped and is
        still active (a trip whose last hard bounce is not older than `since`). A few
        statements per batch, however many groups (one hop to the database thread each)."""
        since_us = to_micros(since)
        signed = " AND e.signed = 1" if signed_only else ""
        wanted = sorted(set(groups))
        counts: dict[Group, int] = dict.fromkeys(wanted, 0)
        active: set[Group] = set()
        for start in range(0, len(wanted), 300):  # 3 parameters each: under SQLite's limit
            chunk = wanted[start : start + 300]
            values = ", ".join("(?, ?, ?)" for _ in chunk)
            params = [p for g in chunk for p in g]
            rows = await self._fetchall(
                f"WITH g (scope, key, text_key) AS (VALUES {values})"
                " SELECT g.scope, g.key, g.text_key, CASE g.scope"
                f"  WHEN 'domain' THEN (SELECT COUNT(*) FROM bounce_events e WHERE e.kind = 'hard'{signed}"
                "   AND e.recipient_domain = g.key AND e.text_key = g.text_key AND e.received_at >= ?)"
                f"  ELSE (SELECT COUNT(*) FROM bounce_events e WHERE e.kind = 'hard'{signed}"
                "   AND e.sending_ip = g.key AND e.text_key = g.text_key AND e.received_at >= ?) END,"
                " EXISTS (SELECT 1 FROM guard_trips t WHERE t.scope = g.scope AND t.key = g.key"
                "   AND t.text_key = g.text_key AND t.last_at >= ?)"
                " FROM g",
                (*params, since_us, since_us, since_us),
            )
            for scope, key, text_key, count, is_active in rows:
                group = (scope, key, text_key)
                counts[group] = int(count)
                if is_active:
                    active.add(group)
        return counts, active

    async def touch_guard(self, groups: Iterable[Group], now: datetime) -> None:
        """Active groups saw another hard bounce: they stay active a window longer."""
        rows = [(to_micros(now), *g) for g in groups]
        if rows:

            async def touch(conn: aiosqlite.Connection) -> None:
                await conn.executemany(
                    "UPDATE guard_trips SET last_at = MAX(last_at, ?) WHERE id = (SELECT MAX(id) FROM"
                    " guard_trips WHERE scope = ? AND key = ? AND text_key = ?)",
                    rows,
                )

            # Shares the commit of the spools in flight: this runs for every batch of a burst.
            await self._group_commit(touch)

    async def trip_guard(
        self, group: Group, since: datetime, now: datetime, alert: Mapping[str, Any] | None = None
    ) -> int:
        """Record a trip of `group`, and move the suppressions its hard bounces made since
        `since` into the quarantine (suppression removed, hard-bounced profile active again,
        audited as actor "guard"). Returns how many were moved. In the same transaction:
        a `suppression_removed` webhook event per moved address, and with `alert` (the
        trip's fields, e.g. count and window) one `guard_tripped` event."""
        scope, key, text_key = group
        since_us, now_us = to_micros(since), to_micros(now)
        async with self._transaction() as conn:
            cursor = await conn.execute(
                "SELECT s.address, e.id, e.reason, e.recipient_domain, e.sending_ip, e.text_key"
                " FROM suppressions s JOIN bounce_events e ON e.id = s.bounce_event_id"
                f" WHERE s.created_by = 'bounce' AND e.kind = 'hard' AND e.{_GROUP_FILTER[scope]}"
                " AND e.text_key = ? AND e.received_at >= ?",
                (key, text_key, since_us),
            )
            moved = list(await cursor.fetchall())
            await cursor.close()
            await conn.execute(RECORD_TRIP, (scope, key, text_key, now_us, now_us, len(moved)))
            if alert is not None:
                detail = guard_alert_detail(alert, group, len(moved))
                await self._outbox_guard_tripped(conn, now_us, detail)
            if not moved:
                return 0
            why = guard_why(scope, key)
            await conn.executemany("DELETE FROM suppressions WHERE address = ?", [(r[0],) for r in moved])
            await conn.executemany(
                "UPDATE profiles SET status = 'active', updated_at = ?"
                " WHERE address = ? AND status = 'hard_bounced'",
                [(now_us, r[0]) for r in moved],
            )
            await conn.executemany(HOLD, [(*r, now_us) for r in moved])
            await conn.executemany(AUDIT, guard_audit(now_us, moved, why))
            pairs = [(r[0], r[1]) for r in moved]
            await self._outbox_policy(conn, "suppression_removed", now_us, pairs, None, why)
        return len(moved)

    async def list_quarantine(
        self, state: str | None = "held", domain: str | None = None, limit: int = 10_000
    ) -> list[QuarantineEntry]:
        sql, params = f"SELECT {_COLUMNS} FROM quarantine WHERE 1 = 1", []
        if state is not None:
            sql += " AND state = ?"
            params.append(state)
        if domain is not None:
            sql += " AND recipient_domain = ?"
            params.append(domain.lower())
        rows = await self._fetchall(sql + " ORDER BY id LIMIT ?", (*params, limit))
        return [_row(r) for r in rows]

    async def release_quarantine(
        self, actor: str, now: datetime, domain: str | None = None, ids: Sequence[int] | None = None
    ) -> int:
        """Drop held entries without suppressing (audited); returns how many."""
        now_us = to_micros(now)
        async with self._transaction() as conn:
            rows = await _decide(conn, "released", actor, now_us, domain, ids)
            await conn.executemany(AUDIT, release_audit(now_us, actor, rows))
        return len(rows)

    async def confirm_quarantine(
        self, actor: str, now: datetime, domain: str | None = None, ids: Sequence[int] | None = None
    ) -> int:
        """Suppress the addresses of held entries (reason: the bounce's, audited); returns how
        many entries were confirmed (an address already suppressed keeps its entry)."""
        now_us = to_micros(now)
        async with self._transaction() as conn:
            rows = await _decide(conn, "confirmed", actor, now_us, domain, ids)
            added = []  # (address, bounce event id) newly on the list: their webhook events
            for r in rows:
                cursor = await conn.execute(
                    CONFIRM_SUPPRESSION,
                    (r[1], r[3], now_us, f"admin:{actor}", r[2]),
                )
                if cursor.rowcount:
                    added.append((r[1], r[2]))
                await cursor.close()
            await self._outbox_policy(conn, "suppression_added", now_us, added)
            await conn.executemany(
                "UPDATE profiles SET status = 'hard_bounced', updated_at = ? WHERE address = ?",
                [(now_us, r[1]) for r in rows],
            )
            await conn.executemany(AUDIT, confirm_audit(now_us, actor, rows))
        return len(rows)
