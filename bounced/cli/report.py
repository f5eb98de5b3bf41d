"""`bounced report`: soft bounces (or non-deliveries) for a period, as table, CSV, XLSX or JSON.

    bounced report --from 2026-01-01 --to 2026-02-01 [--mailing ID] [--group-by from-domain|ip]
                   [--format table|csv|xlsx|json] [--output FILE] [--kind soft|undelivered]

The period is [--from, --to) (bounced.cli.period): a bare --to date is excluded.
The report itself is `bounced.service.report` (the HTTP API serves the same).
The table fits the terminal (the text columns are shortened); --wide shows every
column in full. Exit codes: 0 written, 1 no database / store problem / cannot
write, 2 bad usage.
"""

from __future__ import annotations

import argparse
import shutil
import sys

from bounced.cli.common import (
    add_config_option,
    check_output_path,
    config_from_args,
    missing_database,
    run_with_store,
)
from bounced.cli.period import add_period_options
from bounced.clock import SystemClock
from bounced.model import ReportGrouping
from bounced.report.export import FORMATS
from bounced.service import report as service
from bounced.service.errors import InvalidInput
from bounced.store.base import ServiceStore

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "report",
        help="soft-bounce (or non-delivery) report for a period",
        description="Soft bounces counted exactly per group, recipient domain and normalised bounce "
        "text, largest first, with a total. The period is [--from, --to): a bare --to date is excluded, "
        "UTC unless an offset is given. On a terminal the table fits its width (--wide: full text).",
    )
    add_period_options(p, from_required=True, to_default="now", start="start", end="end")
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
        "--wide",
        action="store_true",
        help="table: every column in full (default: shortened to fit the terminal)",
    )
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
    if args.output:
        check_output_path(args.output)  # OutputError -> one line, exit 1 in cli.main
    if missing_database(config):
        return 1
    fit = None if args.wide or args.output else terminal_width()

    async def write(store: ServiceStore) -> int:
        await service.produce_report(store, query, args.format, args.output, wide=args.wide, fit=fit)
        return 0

    try:
        return run_with_store(config, write)
    except BrokenPipeError:
        raise  # `| head`: cli.main ends quietly
    except OSError as exc:
        print(f"bounced: cannot write report: {exc}", file=sys.stderr)
        return 1


def terminal_width() -> int | None:
    """The width of the terminal stdout goes to; None when it is not a terminal (a pipe or a
    file gets the columns at their usual widths)."""
    if not sys.stdout.isatty():
        return None
    return shutil.get_terminal_size().columns
