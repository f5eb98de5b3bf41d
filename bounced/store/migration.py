"""Migration files of a backend: `<package>/migrations/NNNN_name.sql`, applied in order."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

from bounced.errors import StoreError

__all__ = ["Migration", "available_migrations"]

_MIGRATION_NAME = re.compile(r"^(\d{4})_[A-Za-z0-9_]+\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def available_migrations(package: str = "bounced.store") -> list[Migration]:
    """Every `migrations/NNNN_name.sql` of `package`, in order. Two files with one number are a bug."""
    folder = resources.files(package) / "migrations"
    found: dict[int, Migration] = {}
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if not match:
            continue
        version = int(match.group(1))
        if version in found:
            raise StoreError(f"two migrations numbered {version:04d}: {found[version].name} and {entry.name}")
        found[version] = Migration(version, entry.name, entry.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]
