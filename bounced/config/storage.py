"""[storage]: where the database lives, and how long it keeps the raw bytes of bounces."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field

from bounced.errors import ConfigError

__all__ = ["BACKENDS", "StorageConfig"]

BACKENDS = ("sqlite", "postgresql")
_NODE_NAME = re.compile(r"[A-Za-z0-9._-]{1,253}")


@dataclass(frozen=True)
class StorageConfig:
    path: str = "bounced.sqlite3"  # relative to the working directory (StateDirectory under systemd)
    busy_timeout: float = 30.0
    # Raw bytes of applied bounces older than this many days are dropped (the row, its
    # envelope, hash and events stay); 0 keeps them forever. Failed/unparseable: always kept.
    keep_raw_days: int = 30
    prune_interval: float = 3600.0  # seconds between two retention runs of the daemon
    # "sqlite": everything in the file at `path`. "postgresql": the shared database at `dsn`;
    # `path` is then this node's local intake spool (answers 250 while the server is away).
    backend: str = "sqlite"
    dsn: str = ""  # postgresql://user@host:port/db; empty: the PG* environment variables
    pool_size: int = 10  # connections of this node's pool (postgresql)
    node: str = field(default_factory=socket.gethostname)  # this node's name (postgresql)

    def validate(self, key: str) -> Iterator[ConfigError]:
        prefix = f"{key}." if key else "storage."
        if self.path.strip() in ("", ":memory:") or self.path.startswith("file::memory:"):
            # Each connection would get its own throw-away database: a bounce answered 250
            # would be gone at the next query, and at the latest when the daemon stops.
            yield ConfigError(
                f"{prefix}path",
                f"expected the path of a database file, got {self.path!r} (an in-memory database loses mail)",
            )
        if self.keep_raw_days < 0:
            yield ConfigError(
                f"{prefix}keep_raw_days",
                f"expected a number of days (0: keep raw bytes forever), got {self.keep_raw_days!r}",
            )
        yield from self._validate_backend(prefix)
        if not self.prune_interval > 0:
            yield ConfigError(
                f"{prefix}prune_interval",
                f"expected a positive number of seconds, got {self.prune_interval!r}",
            )

    def _validate_backend(self, prefix: str) -> Iterator[ConfigError]:
        if self.backend not in BACKENDS:
            yield ConfigError(f"{prefix}backend", f'expected "sqlite" or "postgresql", got {self.backend!r}')
        if self.dsn and not self.dsn.startswith(("postgresql://", "postgres://")):
            yield ConfigError(
                f"{prefix}dsn",
                "expected a URL postgresql://user@host:port/database (empty: the PG* environment"
                f" variables), got {self.dsn!r}",
            )
        if not 1 <= self.pool_size <= 1000:
            yield ConfigError(
                f"{prefix}pool_size",
                f"expected a number of connections from 1 to 1000, got {self.pool_size!r}",
            )
        if not _NODE_NAME.fullmatch(self.node):
            yield ConfigError(
                f"{prefix}node",
                "expected this node's name: 1-253 letters, digits, '.', '-' or '_' (default: the host"
                f" name), got {self.node!r}",
            )
