"""The suppression list, recipient profiles and the admin audit log on PostgreSQL.

Adding and removing are single statements whose outcome decides the rest (INSERT ... ON
CONFLICT DO NOTHING RETURNING, DELETE ... RETURNING): when two nodes change one address at
once, exactly one of them audits and announces the change."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bounced.model import AuditEntry, Profile, SuppressionEntry
from bounced.store.postgres.connection import PostgresConnection
from bounced.store.rules import admin_event_row
from bounced.store.sqlite.suppression import (
    _PROFILE_COLUMNS,
    _SUPPRESSION_COLUMNS,
    _row_to_profile,
    _row_to_suppression,
)
from bounced.store.timecodec import from_micros, to_micros

__all__ = ["SuppressionMixin"]

_AUDIT = "INSERT INTO audit_log (at, actor, action, address, reason) VALUES ($1, $2, $3, $4, $5)"


class SuppressionMixin(PostgresConnection):
    if TYPE_CHECKING:  # the webhook outbox (store/postgres/webhooks.py), composed beside

        async def _outbox_events(self, conn: Any, rows: Sequence[tuple[Any, ...]]) -> None: ...

    async def get_suppression(self, address: str) -> SuppressionEntry | None:
        row = await self._fetchrow(
            f"SELECT {_SUPPRESSION_COLUMNS} FROM suppressions WHERE address = $1", self._address(address)
        )
        return None if row is None else _row_to_suppression(row)

    async def suppressed_among(self, addresses: Iterable[str]) -> set[str]:
        """Those of `addresses` (as given) that are on the suppression list."""
        given: dict[str, list[str]] = {}
        for address in addresses:
            given.setdefault(self._address(address), []).append(address)
        if not given:
            return set()
        rows = await self._fetch(
            "SELECT address FROM suppressions WHERE address = ANY($1::text[])", sorted(given)
        )
        return {original for (key,) in rows for original in given[key]}

    async def list_suppressions(self, limit: int = 1000, offset: int = 0) -> list[SuppressionEntry]:
        rows = await self._fetch(
            f"SELECT {_SUPPRESSION_COLUMNS} FROM suppressions ORDER BY created_at, address"
            " LIMIT $1 OFFSET $2",
            limit,
            offset,
        )
        return [_row_to_suppression(r) for r in rows]

    async def count_suppressions(self) -> int:
        return int(await self._fetchval("SELECT count(*) FROM suppressions"))

    async def add_suppression(
        self, address: str, reason: str, actor: str, now: datetime, note: str | None = None
    ) -> bool:
        """Suppress `address` by hand (audited). False when it was already suppressed."""
        addr, now_us = self._address(address), to_micros(now)
        async with self._transaction() as conn:
            added = await conn.fetchval(
                "INSERT INTO suppressions (address, reason, created_at, created_by, note)"
                " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (address) DO NOTHING RETURNING 1",
                addr,
                reason,
                now_us,
                f"admin:{actor}",
                note,
            )
            if added is None:
                return False
            await conn.execute(_AUDIT, now_us, actor, "suppression.add", addr, reason)
            await self._outbox_admin(conn, "suppression_added", now_us, addr, reason)
        return True

    async def remove_suppression(self, address: str, reason: str, actor: str, now: datetime) -> bool:
        """Take `address` off the list (audited); a hard-bounced profile becomes active."""
        addr, now_us = self._address(address), to_micros(now)
        async with self._transaction() as conn:
            removed = await conn.fetchval("DELETE FROM suppressions WHERE address = $1 RETURNING 1", addr)
            if removed is None:
                return False
            await conn.execute(
                "UPDATE profiles SET status = 'active', updated_at = $1"
                " WHERE address = $2 AND status = 'hard_bounced'",
                now_us,
                addr,
            )
            await conn.execute(_AUDIT, now_us, actor, "suppression.remove", addr, reason)
            await self._outbox_admin(conn, "suppression_removed", now_us, addr, reason)
        return True

    async def _outbox_admin(self, conn: Any, event_type: str, now_us: int, address: str, reason: str) -> None:
        """An admin's change: kind "admin", the reason they gave as diagnostic."""
        await self._outbox_events(conn, [admin_event_row(event_type, now_us, address, reason)])

    async def get_profile(self, address: str) -> Profile | None:
        row = await self._fetchrow(
            f"SELECT {_PROFILE_COLUMNS} FROM profiles WHERE address = $1", self._address(address)
        )
        return None if row is None else _row_to_profile(row)

    async def audit_entries(self, address: str | None = None) -> list[AuditEntry]:
        sql = "SELECT id, at, actor, action, address, reason FROM audit_log"
        args: list[Any] = []
        if address is not None:
            sql += " WHERE address = $1"
            args.append(self._address(address))
        rows = await self._fetch(sql + " ORDER BY at, id", *args)
        return [
            AuditEntry(id=int(r[0]), at=from_micros(r[1]), actor=r[2], action=r[3], address=r[4], reason=r[5])
            for r in rows
        ]
