"""[storage]: where the database lives."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["StorageConfig"]


@dataclass(frozen=True)
class StorageConfig:
    path: str = "bounced.sqlite3"  # relative to the working directory (StateDirectory under systemd)
    busy_timeout: float = 30.0
