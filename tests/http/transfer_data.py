"""A suppression list of any size with every kind of entry, for the export/import round trip."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bounced.config.storage import StorageConfig
from bounced.model import SuppressionEntry
from bounced.store import open_store

ORIGINS = ("bounce", "complaint", "smtp", "admin:alice")
NOTES = (None, "asked by phone", 'quote " comma, and\nnewline', "ünïcödé ✓")


def entries(count: int) -> list[SuppressionEntry]:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    return [
        SuppressionEntry(
            address=f"User.{i}@Dom{i % 97}.example",  # local part as sent, domain lower-cased below
            reason=("userunknown", "complaint", "mailbox disabled", "by hand: list cleaning")[i % 4],
            created_at=start + timedelta(seconds=i // 3, microseconds=i % 1000),
            created_by=ORIGINS[i % 4],
            note=NOTES[i % 4],
        )
        for i in range(count)
    ]


def fill(db: Path, count: int) -> None:
    async def main() -> None:
        store = await open_store(StorageConfig(path=str(db)))
        try:
            batch = [
                SuppressionEntry(e.address.split("@")[0] + "@" + e.address.split("@")[1].lower(), e.reason,
                                 e.created_at, e.created_by, note=e.note)
                for e in entries(count)
            ]  # fmt: skip
            for i in range(0, len(batch), 20_000):
                await store.import_suppressions(batch[i : i + 20_000], "test data", "fill", datetime.now(UTC))
        finally:
            await store.close()

    asyncio.run(main())


def bounced(config: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "bounced", *args, "--config", str(config)], capture_output=True, check=False
    )


def config_for(folder: Path, name: str) -> Path:
    path = folder / f"{name}.toml"
    path.write_text(f'[storage]\npath = "{folder / (name + ".sqlite3")}"\n')
    return path
