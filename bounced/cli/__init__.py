"""`bounced` command line: one module per command group, each with `register(subparsers)`.

Exit codes: 0 success, 1 "no" answers and unreadable inputs, 2 bad usage or bad config.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bounced.errors import ConfigError

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    from bounced.cli import admin, check_config, hooks, intake, outbox, parse, report, serve

    parser = argparse.ArgumentParser(prog="bounced", description="Bounce processor for a return-path host.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (serve, check_config, parse, admin, outbox, report, intake, hooks):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"bounced: config error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
