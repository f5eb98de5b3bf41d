"""`bounced report`: soft bounces (or non-deliveries) for a period, as table, CSV, XLSX or JSON.

    bounced report --from 2026-01-01 --to 2026-02-01 [--mailing ID] [--group-by from-domain|ip]
                   [--format table|csv|xlsx|json] [--output FILE] [--kind soft|undelivered]

The period is [--from, --to): dates or date-times, UTC unless an offset is given.
The report itself is `bounced.service.report` (the HTTP API serves the same).
Exit codes: 0 written, 1 no database / store problem / cannot write, 2 bad usage.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime

from bounced.cli.common import add_config_option, config_from_args, missing_database, run_with_store
from bounced.clock import SystemClock
from bounced.model import ReportGrouping
from bounced.report.export import FORMATS
from bounced.service import report as service
from bounced.service.errors import InvalidInput
from bounced.service.values import parse_when as parse_value
from bounced.store import SQLiteStore

__all__ = ["parse_when", "register"]


def parse_when(text: str) -> datetime:
    """`2026-01-31`, `2026-01-31T08:00`, `2026-01-31 08:00:00+02:00`, `...Z`: aware, UTC default."""
    try:
        return parse_value(text)
    except InvalidInput as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "report",
        help="soft-bounce (or non-delivery) report for a period",
        description="Soft bounces counted exactly per group, recipient domain and normalised bounce "
        "text, largest first, with a total. The period is [--from, --to), UTC unless an offset is given.",
    )
    p.add_argument(
        "--from", dest="start", required=True, type=parse_when, metavar="DATE", help="start (inclusive)"
    )
    p.add_argument("--to", dest="end", type=parse_when, metavar="DATE", help="end (exclusive; default: now)")
    p.add_argument("--mailing", metavar="ID", help="one mailing (X-Mailing-ID); default: all mailings")
    p.add_argument(
        "--group-by",
        choices=[g.value for g in ReportGrouping],
        default=ReportGrouping.FROM_DOMAIN.value,
        help="first column: the from-domain used for sending, or the sending IP (default from-domain)",
    )
    p.add_argument("--format", choices=FORMATS, default="table", help="output format (default table)")
    p.add_argument("--output", metavar="FILE", help="write here instead of stdout (required for xlsx)")
    p.add_argument(
        "--kind",
        choices=service.KINDS,
        default="soft",
        help="soft: soft bounces (default); undelivered: deliveries given up after all resends",
    )
    add_config_option(p)
    p.set_defaults(func=_run)


def _usage_error(message: str) -> int:
    print(f"bounced report: error: {message}", file=sys.stderr)
    return 2


def _run(args: argparse.Namespace) -> int:
    try:
        query = service.report_query(
            args.start, args.end, SystemClock().now(), args.kind, args.group_by, args.mailing
        )
    except InvalidInput as exc:
        return _usage_error(f"--{exc.field.replace('_', '-')}: {exc.message}")
    if args.format == "xlsx" and not args.output:
        return _usage_error("--format xlsx needs --output FILE")
    config = config_from_args(args)  # ConfigError -> exit 2 in cli.main
    if missing_database(config):
        return 1

    async def write(store: SQLiteStore) -> int:
        await service.produce_report(store, query, args.format, args.output)
        return 0

    try:
        return run_with_store(config, write)
    except BrokenPipeError:
        # `bounced report | head`: the reader has enough; say nothing more on a dead pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        print(f"bounced: cannot write report: {exc}", file=sys.stderr)
        return 1
