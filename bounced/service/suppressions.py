"""The suppression list as operations: pages with a cursor, get, add, remove (reason required,
audited), bulk import and streaming export. The CLI and the HTTP API both call these."""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from bounced.clock import Clock
from bounced.model import SuppressionEntry
from bounced.service.errors import InvalidInput
from bounced.service.transfer import ImportLine, parse_import_lines
from bounced.service.values import required_text, valid_address, valid_limit
from bounced.store.base import AdminViewStore, SuppressionStore
from bounced.store.timecodec import from_micros, to_micros

__all__ = ["ImportResult", "SuppressionPage", "SuppressionService", "decode_cursor", "encode_cursor"]

_IMPORT_BATCH = 5_000
_EXPORT_BATCH = 5_000


class _Store(SuppressionStore, AdminViewStore, Protocol):
    pass


def encode_cursor(entry: SuppressionEntry) -> str:
    raw = f"{to_micros(entry.created_at)}:{entry.address}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, field: str = "cursor") -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        micros, _, address = raw.partition(":")
        return from_micros(int(micros)), address
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError):
        raise InvalidInput(field, f"{cursor!r} is not a cursor this API gave out") from None


@dataclass(frozen=True)
class SuppressionPage:
    entries: list[SuppressionEntry]
    total: int
    next_cursor: str | None  # None: this page is the last
    next_offset: int | None = None  # with offset paging


@dataclass
class ImportResult:
    added: int = 0
    already_present: int = 0
    invalid: int = 0
    problems: list[str] = field(default_factory=list)  # the first few invalid lines, with why

    def as_dict(self) -> dict[str, object]:
        return {
            "added": self.added,
            "already_present": self.already_present,
            "invalid": self.invalid,
            "problems": self.problems,
        }


class SuppressionService:
    def __init__(self, store: _Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    async def page(self, cursor: str | None = None, limit: int = 1000) -> SuppressionPage:
        valid_limit(limit)
        after = decode_cursor(cursor) if cursor else None
        entries = await self.store.list_suppressions_after(after, limit + 1)
        more = len(entries) > limit
        entries = entries[:limit]
        total = await self.store.count_suppressions()
        return SuppressionPage(entries, total, encode_cursor(entries[-1]) if more else None)

    async def page_at(self, offset: int = 0, limit: int = 1000) -> SuppressionPage:
        """Offset paging (the CLI's --offset): the same order as `page`."""
        valid_limit(limit)
        if offset < 0:
            raise InvalidInput("offset", f"expected 0 or more, got {offset}")
        entries = await self.store.list_suppressions(limit=limit + 1, offset=offset)
        more = len(entries) > limit
        entries = entries[:limit]
        total = await self.store.count_suppressions()
        return SuppressionPage(
            entries,
            total,
            encode_cursor(entries[-1]) if more else None,
            offset + limit if more else None,
        )

    async def get(self, email: str) -> tuple[str, SuppressionEntry | None]:
        address = valid_address(email)
        return address, await self.store.get_suppression(address)

    async def add(
        self, email: str, reason: str | None, actor: str, note: str | None = None
    ) -> tuple[str, bool, SuppressionEntry | None]:
        address = valid_address(email)
        why = required_text(reason, "reason")
        added = await self.store.add_suppression(address, why, actor, self.clock.now(), note)
        return address, added, await self.store.get_suppression(address)

    async def remove(self, email: str, reason: str | None, actor: str) -> tuple[str, bool]:
        address = valid_address(email)
        why = required_text(reason, "reason")
        return address, await self.store.remove_suppression(address, why, actor, self.clock.now())

    async def export_entries(self) -> AsyncIterator[list[SuppressionEntry]]:
        """The whole list in batches, keyset-paged: memory stays flat however long it is."""
        after: tuple[datetime, str] | None = None
        while True:
            batch = await self.store.list_suppressions_after(after, _EXPORT_BATCH)
            if not batch:
                return
            yield batch
            after = (batch[-1].created_at, batch[-1].address)

    async def import_lines(
        self, lines: Iterable[bytes | str], reason: str | None, actor: str, max_problems: int = 20
    ) -> ImportResult:
        """Import CSV (with the export's header), JSON lines or one address a line. Idempotent:
        an address already on the list is counted, never changed; every added one is audited."""
        why = required_text(reason, "reason")
        result = ImportResult()
        batch: list[SuppressionEntry] = []

        async def flush() -> None:
            if batch:
                added = await self.store.import_suppressions(batch, why, actor, self.clock.now())
                result.added += added
                result.already_present += len(batch) - added
                batch.clear()

        now = self.clock.now()
        for item in parse_import_lines(
            lines, default_created_by=f"admin:{actor}", default_reason=why, now=now
        ):
            if isinstance(item, ImportLine):
                batch.append(item.entry)
                if len(batch) >= _IMPORT_BATCH:
                    await flush()
            else:
                result.invalid += 1
                if len(result.problems) < max_problems:
                    result.problems.append(item)
        await flush()
        return result
