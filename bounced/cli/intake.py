"""`bounced intake prune|stats`: retention of the intake spool's raw bytes, from the shell.

`prune` runs the daemon's retention once (safe while the daemon runs: short transactions);
`stats` shows messages per state, raw bytes kept and how many were pruned.
Exit codes: 0 done, 1 no database / store problem, 2 bad usage or bad config.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from bounced.cli.common import add_config_option, config_from_args, missing_database, run_with_store
from bounced.clock import SystemClock
from bounced.retention import prune_raw
from bounced.store import SQLiteStore

__all__ = ["register"]

Command = Callable[[SQLiteStore, argparse.Namespace], Awaitable[int]]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    intake = sub.add_parser("intake", help="the intake spool: retention of raw bounce bytes")
    intake_sub = intake.add_subparsers(dest="action", required=True, metavar="ACTION")

    p = intake_sub.add_parser(
        "prune",
        help="drop the raw bytes of applied bounces older than DAYS (once; the daemon does it hourly)",
    )
    p.add_argument(
        "--older-than",
        metavar="DAYS",
        type=_days,
        help="age in days (default: storage.keep_raw_days; 0 there means keep forever)",
    )
    _common(p, _prune)

    p = intake_sub.add_parser("stats", help="messages per state, raw bytes kept, messages pruned")
    _common(p, _stats)


def _days(text: str) -> float:
    try:
        days = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number of days, got {text!r}") from None
    if not days > 0 or days == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of days, got {text!r}")
    return days


def _common(parser: argparse.ArgumentParser, command: Command) -> None:
    add_config_option(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=lambda args: _run(args, command))


def _run(args: argparse.Namespace, command: Command) -> int:
    config = config_from_args(args)  # ConfigError -> exit 2 in cli.main
    if getattr(args, "older_than", None) is None and args.action == "prune":
        args.older_than = config.storage.keep_raw_days or None  # 0: retention is off
    if missing_database(config):
        return 1
    return run_with_store(config, lambda store: command(store, args))


async def _prune(store: SQLiteStore, args: argparse.Namespace) -> int:
    now = SystemClock().now()
    if args.older_than is None:
        _say(args, {"pruned": 0, "older_than": None}, "storage.keep_raw_days = 0: raw bytes are kept forever")
        return 0
    older_than = now - timedelta(days=args.older_than)
    pruned = await prune_raw(store, older_than, now)
    _say(
        args,
        {"pruned": pruned, "older_than": older_than.isoformat()},
        f"pruned the raw bytes of {pruned} applied messages"
        f" received before {older_than:%Y-%m-%d %H:%M:%S} UTC",
    )
    return 0


async def _stats(store: SQLiteStore, args: argparse.Namespace) -> int:
    stats = await store.intake_stats()
    total = sum(stats.counts.values())
    data = {
        "counts": {state.value: count for state, count in stats.counts.items()},
        "total": total,
        "raw_bytes": stats.raw_bytes,
        "pruned": stats.pruned,
    }
    if args.json:
        _print_json(data)
        return 0
    for state, count in stats.counts.items():
        print(f"{state.value:<12} {count}")
    print(f"{'total':<12} {total}")
    print(f"raw bytes kept: {stats.raw_bytes} ({_human(stats.raw_bytes)})")
    print(f"pruned: {stats.pruned} messages (raw bytes dropped, rows kept)")
    return 0


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def _say(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    if args.json:
        _print_json(data)
    else:
        print(text)


def _print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
