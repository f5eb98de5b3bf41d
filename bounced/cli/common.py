"""Options and helpers shared by the command modules."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from bounced.config import Config, load_config
from bounced.errors import StoreError
from bounced.store import SQLiteStore, open_store

__all__ = ["add_config_option", "config_from_args", "missing_database", "run_with_store"]


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", metavar="FILE", help="TOML config file (default: $BOUNCED_CONFIG, else built-in defaults)"
    )


def config_from_args(args: argparse.Namespace) -> Config:
    return load_config(getattr(args, "config", None))


def missing_database(config: Config) -> bool:
    """True (and says so on stderr) when the database file does not exist: a wrong --config
    must not silently create an empty database and answer from it."""
    path = config.storage.path
    if path == ":memory:" or Path(path).exists():
        return False
    print(f"bounced: no database at {path} (storage.path); check --config / $BOUNCED_CONFIG", file=sys.stderr)
    return True


def run_with_store(config: Config, command: Callable[[SQLiteStore], Awaitable[int]]) -> int:
    """Open the store, run `command`, close it; a store error is exit 1."""

    async def main() -> int:
        store = await open_store(config.storage)
        store.enable_webhook_outbox(bool(config.webhooks))  # an admin's change fires webhooks too
        try:
            return await command(store)
        finally:
            await store.close()

    try:
        return asyncio.run(main())
    except StoreError as exc:
        print(f"bounced: store error: {exc}", file=sys.stderr)
        return 1
