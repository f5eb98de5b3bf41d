"""The suppression list, recipient profiles and the admin audit log."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from bounced.model import AuditEntry, Profile, ProfileStatus, SuppressionEntry
from bounced.store.rules import admin_event_row
from bounced.store.sqlite.connection import from_micros, from_micros_opt, to_micros
from bounced.store.sqlite.webhooks import WebhooksMixin

__all__ = ["SuppressionMixin"]

_SUPPRESSION_COLUMNS = "address, reason, created_at, created_by, bounce_event_id, note"
_PROFILE_COLUMNS = (
    "address, status, bounce_count, soft_bounce_count, hard_bounce_count, last_bounce_at,"
    " last_bounce_reason, created_at, updated_at"
)


def _row_to_suppression(row: Sequence[Any]) -> SuppressionEntry:
    return SuppressionEntry(
        address=row[0],
        reason=row[1],
        created_at=from_micros(row[2]),
        created_by=row[3],
        bounce_event_id=row[4],
        note=row[5],
    )


def _row_to_profile(row: Sequence[Any]) -> Profile:
    return Profile(
        address=row[0],
        status=ProfileStatus(row[1]),
        bounce_count=int(row[2]),
        soft_bounce_count=int(row[3]),
        hard_bounce_count=int(row[4]),
        last_bounce_at=from_micros_opt(row[5]),
        last_bounce_reason=row[6],
        created_at=from_micros_opt(row[7]),
        updated_at=from_micros_opt(row[8]),
    )


class SuppressionMixin(WebhooksMixin):
    async def get_suppression(self, address: str) -> SuppressionEntry | None:
        rows = await self._fetchall(
            f"SELECT {_SUPPRESSION_COLUMNS} FROM suppressions WHERE address = ?",
            (self._address(address),),
        )
        return _row_to_suppression(rows[0]) if rows else None

    async def suppressed_among(self, addresses: Iterable[str]) -> set[str]:
        """Those of `addresses` (as given) that are on the suppression list."""
        given: dict[str, list[str]] = {}
        for address in addresses:
            given.setdefault(self._address(address), []).append(address)
        wanted = sorted(given)
        found: set[str] = set()
        for start in range(0, len(wanted), 500):  # stay under SQLite's bound-parameter limit
            chunk = wanted[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            rows = await self._fetchall(f"SELECT address FROM suppressions WHERE address IN ({marks})", chunk)
            for (key,) in rows:
                found.update(given[key])
        return found

    async def list_suppressions(self, limit: int = 1000, offset: int = 0) -> list[SuppressionEntry]:
        rows = await self._fetchall(
            f"SELECT {_SUPPRESSION_COLUMNS} FROM suppressions ORDER BY created_at, address LIMIT ? OFFSET ?",
            (limit, offset),
        )
        return [_row_to_suppression(r) for r in rows]

    async def count_suppressions(self) -> int:
        row = await self._fetchone("SELECT COUNT(*) FROM suppressions")
        return int(row[0]) if row else 0

    async def add_suppression(
        self, address: str, reason: str, actor: str, now: datetime, note: str | None = None
    ) -> bool:
        """Suppress `address` by hand (audited). False when it was already suppressed."""
        addr = self._address(address)
        now_us = to_micros(now)
        async with self._transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO suppressions (address, reason, created_at, created_by, note)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (address) DO NOTHING",
                (addr, reason, now_us, f"admin:{actor}", note),
            )
            if cursor.rowcount == 0:
                return False
            await conn.execute(
                "INSERT INTO audit_log (at, actor, action, address, reason)"
                " VALUES (?, ?, 'suppression.add', ?, ?)",
                (now_us, actor, addr, reason),
            )
            await self._outbox_admin(conn, "suppression_added", now_us, addr, reason)
        return True

    async def remove_suppression(self, address: str, reason: str, actor: str, now: datetime) -> bool:
        """Take `address` off the list (audited) and set a hard-bounced profile back to active.

        The only way off the list: nothing that arrives by SMTP calls this. False when the
        address was not suppressed (nothing changes, nothing is audited)."""
        addr = self._address(address)
        now_us = to_micros(now)
        async with self._transaction() as conn:
            cursor = await conn.execute("DELETE FROM suppressions WHERE address = ?", (addr,))
            if cursor.rowcount == 0:
                return False
            await conn.execute(
                "UPDATE profiles SET status = 'active', updated_at = ?"
                " WHERE address = ? AND status = 'hard_bounced'",
                (now_us, addr),
            )
            await conn.execute(
                "INSERT INTO audit_log (at, actor, action, address, reason)"
                " VALUES (?, ?, 'suppression.remove', ?, ?)",
                (now_us, actor, addr, reason),
            )
            await self._outbox_admin(conn, "suppression_removed", now_us, addr, reason)
        return True

    async def _outbox_admin(self, conn: Any, event_type: str, now_us: int, address: str, reason: str) -> None:
        """An admin's change: kind "admin", the reason they gave as diagnostic."""
        await self._outbox_events(conn, [admin_event_row(event_type, now_us, address, reason)])

    async def get_profile(self, address: str) -> Profile | None:
        rows = await self._fetchall(
            f"SELECT {_PROFILE_COLUMNS} FROM profiles WHERE address = ?", (self._address(address),)
        )
        return _row_to_profile(rows[0]) if rows else None

    async def audit_entries(self, address: str | None = None) -> list[AuditEntry]:
        """The audit log (all of it, or one address's), oldest first."""
        sql = "SELECT id, at, actor, action, address, reason FROM audit_log"
        params: tuple[Any, ...] = ()
        if address is not None:
            sql += " WHERE address = ?"
            params = (self._address(address),)
        rows = await self._fetchall(sql + " ORDER BY at, id", params)
        return [
            AuditEntry(id=int(r[0]), at=from_micros(r[1]), actor=r[2], action=r[3], address=r[4], reason=r[5])
            for r in rows
        ]
