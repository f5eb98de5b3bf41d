"""The mass-failure guard's state and the quarantine on PostgreSQL (store/sqlite/guard.py is
the model), for several nodes applying at once.

- `trip_guard` holds a transaction advisory lock per group, and moves suppressions with one
  DELETE ... RETURNING, so each suppression is moved once. Two nodes can decide to trip a
  group at the same moment (each read the guard's state before the other's trip committed):
  the second finds the group active and adds what it moved to that trip, with no second
  trip row and no second `guard_tripped` event.
- Quarantine decisions are one UPDATE ... WHERE state = 'held' RETURNING: two admins
  deciding at once decide each entry once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from bounced.model import QuarantineEntry
from bounced.store.postgres.sql import numbered
from bounced.store.postgres.webhooks import WebhooksMixin
from bounced.store.rules import confirm_audit, guard_alert_detail, guard_audit, guard_why, release_audit
from bounced.store.sqlite.guard import (
    _COLUMNS,
    _GROUP_FILTER,
    AUDIT,
    CONFIRM_SUPPRESSION,
    HOLD,
    RECORD_TRIP,
    Group,
    _row,
)
from bounced.store.timecodec import to_micros

__all__ = ["GuardMixin"]

_GROUP_LOCK_CLASS = 1651470672  # advisory lock (class, hashtext(group)): one trip at a time

_AUDIT = numbered(AUDIT)


async def _decide(
    conn: asyncpg.Connection,
    state: str,
    actor: str,
    now_us: int,
    domain: str | None,
    ids: Sequence[int] | None,
) -> list[asyncpg.Record]:
    """Mark the held entries that match `released` or `confirmed`, atomically; returns
    their rows (id, address, bounce_event_id, reason) by id."""
    rows = await conn.fetch(
        "UPDATE quarantine SET state = $1, decided_at = $2, decided_by = $3 WHERE state = 'held'"
        " AND ($4::text IS NULL OR recipient_domain = $4) AND ($5::bigint[] IS NULL OR id = ANY($5))"
        " RETURNING id, address, bounce_event_id, reason",
        state,
        now_us,
        actor,
        None if domain is None else domain.lower(),
        list(ids) if ids else None,
    )
    return sorted(rows, key=lambda r: int(r[0]))


def _columns(groups: Sequence[Group]) -> tuple[list[str], list[str], list[str]]:
    """Groups as three arrays (scope, key, text_key), for unnest."""
    return [g[0] for g in groups], [g[1] for g in groups], [g[2] for g in groups]


class GuardMixin(WebhooksMixin):
    async def guard_state(
        self, groups: Iterable[Group], since: datetime, signed_only: bool = False
    ) -> tuple[dict[Group, int], set[Group]]:
        """Per group: hard bounces recorded since `since` (`signed_only`: signed ones), and
        whether it tripped and is still active. One statement however many groups."""
        wanted = sorted(set(groups))
        counts: dict[Group, int] = dict.fromkeys(wanted, 0)
        active: set[Group] = set()
        if not wanted:
            return counts, active
        signed = " AND e.signed = 1" if signed_only else ""
        rows = await self._fetch(
            "SELECT g.scope, g.key, g.text_key, CASE g.scope"
            f"  WHEN 'domain' THEN (SELECT COUNT(*) FROM bounce_events e WHERE e.kind = 'hard'{signed}"
            "   AND e.recipient_domain = g.key AND e.text_key = g.text_key AND e.received_at >= $4)"
            f"  ELSE (SELECT COUNT(*) FROM bounce_events e WHERE e.kind = 'hard'{signed}"
            "   AND e.sending_ip = g.key AND e.text_key = g.text_key AND e.received_at >= $4) END,"
            " EXISTS (SELECT 1 FROM guard_trips t WHERE t.scope = g.scope AND t.key = g.key"
            "   AND t.text_key = g.text_key AND t.last_at >= $4)"
            " FROM unnest($1::text[], $2::text[], $3::text[]) AS g (scope, key, text_key)",
            *_columns(wanted),
            to_micros(since),
        )
        for scope, key, text_key, count, is_active in rows:
            group = (scope, key, text_key)
            counts[group] = int(count)
            if is_active:
                active.add(group)
        return counts, active

    async def touch_guard(self, groups: Iterable[Group], now: datetime) -> None:
        """Active groups saw another hard bounce: they stay active a window longer
        (GREATEST: a node with an older clock reading never moves last_at back)."""
        wanted = sorted(set(groups))
        if wanted:
            await self._execute(
                "UPDATE guard_trips t SET last_at = GREATEST(t.last_at, $4) FROM ("
                " SELECT MAX(x.id) AS id FROM guard_trips x"
                " JOIN unnest($1::text[], $2::text[], $3::text[]) AS g (scope, key, text_key)"
                " ON x.scope = g.scope AND x.key = g.key AND x.text_key = g.text_key"
                " GROUP BY x.scope, x.key, x.text_key) AS latest WHERE t.id = latest.id",
                *_columns(wanted),
                to_micros(now),
            )

    async def trip_guard(
        self, group: Group, since: datetime, now: datetime, alert: Mapping[str, Any] | None = None
    ) -> int:
        """Record a trip of `group` and move the suppressions its hard bounces made since
        `since` into the quarantine (see store/sqlite/guard.py); returns how many moved."""
        scope, key, text_key = group
        since_us, now_us = to_micros(since), to_micros(now)

        async def work(conn: asyncpg.Connection) -> int:
            await conn.execute(
                "SELECT pg_advisory_xact_lock($1, hashtext($2))", _GROUP_LOCK_CLASS, "\x1f".join(group)
            )
            moved = await conn.fetch(
                "DELETE FROM suppressions s USING bounce_events e WHERE e.id = s.bounce_event_id"
                " AND s.created_by = 'bounce' AND e.kind = 'hard' AND"
                f" e.{_GROUP_FILTER[scope].replace('?', '$1')}"
                " AND e.text_key = $2 AND e.received_at >= $3"
                " RETURNING s.address, e.id, e.reason, e.recipient_domain, e.sending_ip, e.text_key",
                key,
                text_key,
                since_us,
            )
            moved = sorted(moved, key=lambda r: int(r[1]))
            trip = await conn.fetchval(
                "SELECT id FROM guard_trips WHERE scope = $1 AND key = $2 AND text_key = $3 AND last_at >= $4"
                " ORDER BY id DESC LIMIT 1",
                scope,
                key,
                text_key,
                since_us,
            )
            if trip is None:
                await conn.execute(numbered(RECORD_TRIP), scope, key, text_key, now_us, now_us, len(moved))
                if alert is not None:
                    await self._outbox_guard_tripped(
                        conn, now_us, guard_alert_detail(alert, group, len(moved))
                    )
            else:  # another node tripped it a moment ago: one incident
                await conn.execute(
                    "UPDATE guard_trips SET held = held + $1, last_at = GREATEST(last_at, $2) WHERE id = $3",
                    len(moved),
                    now_us,
                    trip,
                )
            if not moved:
                return 0
            why = guard_why(scope, key)
            addresses = [r[0] for r in moved]
            await conn.execute(
                "UPDATE profiles SET status = 'active', updated_at = $1"
                " WHERE address = ANY($2::text[]) AND status = 'hard_bounced'",
                now_us,
                addresses,
            )
            await conn.executemany(numbered(HOLD), [(*r, now_us) for r in moved])
            await conn.executemany(_AUDIT, guard_audit(now_us, moved, why))
            pairs = [(r[0], int(r[1])) for r in moved]
            await self._outbox_policy(conn, "suppression_removed", now_us, pairs, None, why)
            return len(moved)

        return await self._in_transaction(work)

    async def list_quarantine(
        self, state: str | None = "held", domain: str | None = None, limit: int = 10_000
    ) -> list[QuarantineEntry]:
        rows = await self._fetch(
            f"SELECT {_COLUMNS} FROM quarantine WHERE ($1::text IS NULL OR state = $1)"
            " AND ($2::text IS NULL OR recipient_domain = $2) ORDER BY id LIMIT $3",
            state,
            None if domain is None else domain.lower(),
            limit,
        )
        return [_row(r) for r in rows]

    async def release_quarantine(
        self, actor: str, now: datetime, domain: str | None = None, ids: Sequence[int] | None = None
    ) -> int:
        """Drop held entries without suppressing (audited); returns how many."""
        now_us = to_micros(now)
        async with self._transaction() as conn:
            rows = await _decide(conn, "released", actor, now_us, domain, ids)
            await conn.executemany(_AUDIT, release_audit(now_us, actor, rows))
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
                confirm = numbered(CONFIRM_SUPPRESSION) + " RETURNING address"
                inserted = await conn.fetchval(confirm, r[1], r[3], now_us, f"admin:{actor}", r[2])
                if inserted is not None:
                    added.append((str(r[1]), int(r[2])))
            await self._outbox_policy(conn, "suppression_added", now_us, added)
            await conn.execute(
                "UPDATE profiles SET status = 'hard_bounced', updated_at = $1 WHERE address ="
                " ANY($2::text[])",
                now_us,
                [r[1] for r in rows],
            )
            await conn.executemany(_AUDIT, confirm_audit(now_us, actor, rows))
        return len(rows)
