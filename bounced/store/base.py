"""The store interface. The pipeline talks to these protocols and never writes SQL.

Each area has its own protocol; `Store` is all of them, so a PostgreSQL implementation
can be added beside `store/sqlite/` without touching the pipeline. Every method that
returns has committed: a caller may acknowledge what it wrote.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from bounced.model import (
    AuditEntry,
    BounceEvent,
    IntakeMessage,
    IntakeState,
    Profile,
    SuppressionEntry,
)

__all__ = ["BounceStore", "IntakeStore", "Store", "SuppressionStore"]


class IntakeStore(Protocol):
    async def spool(
        self, raw: bytes, mail_from: str, rcpt_tos: Sequence[str], peer: str, received_at: datetime
    ) -> int:
        """Make a received message durable (fsync'd commit, possibly grouped) and return its id."""
        ...

    async def pending_intake(self, limit: int = 100, after_id: int = 0) -> list[IntakeMessage]: ...

    async def mark_intake(self, intake_id: int, state: IntakeState, error: str | None = None) -> None: ...


class BounceStore(Protocol):
    async def record_events(
        self, intake_id: int | None, events: Sequence[BounceEvent], now: datetime
    ) -> list[int]:
        """In one transaction: insert events (duplicates skipped), update profiles, suppress
        hard/complaint addresses as the events' kinds demand, mark the intake applied.
        Returns the ids of newly inserted events."""
        ...

    async def events_for(self, recipient: str) -> list[BounceEvent]: ...


class SuppressionStore(Protocol):
    async def get_suppression(self, address: str) -> SuppressionEntry | None: ...

    async def list_suppressions(self, limit: int = 1000, offset: int = 0) -> list[SuppressionEntry]: ...

    async def add_suppression(self, address: str, reason: str, actor: str, now: datetime) -> bool: ...

    async def remove_suppression(self, address: str, reason: str, actor: str, now: datetime) -> bool: ...

    async def get_profile(self, address: str) -> Profile | None: ...

    async def audit_entries(self, address: str | None = None) -> list[AuditEntry]: ...


class Store(IntakeStore, BounceStore, SuppressionStore, Protocol):
    async def close(self) -> None: ...
