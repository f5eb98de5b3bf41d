"""Options and helpers shared by the command modules."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from bounced.config import Config, load_config
from bounced.errors import StoreError
from bounced.store import Store, open_backend

__all__ = [
    "OutputError",
    "add_config_option",
    "check_output_path",
    "config_from_args",
    "count",
    "missing_database",
    "positive_count",
    "run_with_store",
]


class OutputError(OSError):
    """An --output FILE that cannot be written; `bounced.cli.main` says so in one line, exit 1."""


def check_output_path(path: str | Path) -> None:
    """Raise OutputError unless a file can be created at `path` (tried, then removed), so
    that every writer, whatever its library, fails the same way before doing any work."""
    target = Path(path)
    try:
        if target.is_dir():
            raise IsADirectoryError(21, "is a directory", str(target))
        with target.open("ab"):
            pass
        if target.stat().st_size == 0:
            target.unlink()
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from None


def count(text: str) -> int:
    """argparse type: an integer >= 0 (--offset, --events)."""
    return _integer(text, 0)


def positive_count(text: str) -> int:
    """argparse type: an integer >= 1 (--limit)."""
    return _integer(text, 1)


def _integer(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = least - 1
    if value < least:
        raise argparse.ArgumentTypeError(f"expected an integer >= {least}, got {text!r}")
    return value


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", metavar="FILE", help="TOML config file (default: $BOUNCED_CONFIG, else built-in defaults)"
    )


def config_from_args(args: argparse.Namespace) -> Config:
    return load_config(getattr(args, "config", None))


def missing_database(config: Config) -> bool:
    """True (and says so on stderr) when the database file does not exist: a wrong --config
    must not silently create an empty database and answer from it."""
    if config.storage.backend == "postgresql":
        return False  # the database is the server; a node's local spool is made when needed
    path = config.storage.path
    if path == ":memory:" or Path(path).exists():
        return False
    print(f"bounced: no database at {path} (storage.path); check --config / $BOUNCED_CONFIG", file=sys.stderr)
    return True


def run_with_store(config: Config, command: Callable[[Store], Awaitable[int]]) -> int:
    """Open the store, run `command`, close it; a store error is exit 1."""

    async def main() -> int:
        store = await open_backend(config.storage, config.policy.fold_local_case)
        store.enable_webhook_outbox(bool(config.event_sinks))  # an admin's change fires webhooks too
        try:
            return await command(store)
        finally:
            await store.close()

    try:
        return asyncio.run(main())
    except StoreError as exc:
        print(f"bounced: store error: {exc}", file=sys.stderr)
        return 1
