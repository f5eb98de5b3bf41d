"""Run `bounced report` over the store of a test daemon, for a period around today."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bounced.cli import main as cli_main
from bounced.config import Config

__all__ = ["report_runner"]


def report_runner(tmp_path: Path, config: Config) -> Callable[..., Awaitable[None]]:
    """`await report(*options)` runs the real CLI (exit 0 asserted) on `config`'s database."""
    toml = tmp_path / "bounced.toml"
    toml.write_text(f'[storage]\npath = "{config.storage.path}"\n', encoding="utf-8")
    today = datetime.now(UTC).date()
    period = [
        "--from",
        (today - timedelta(days=1)).isoformat(),
        "--to",
        (today + timedelta(days=2)).isoformat(),
    ]

    async def report(*options: str) -> None:
        argv = ["report", "--config", str(toml), *period, *options]
        assert await asyncio.to_thread(cli_main, argv) == 0

    return report
