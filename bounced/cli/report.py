"""`bounced report`: soft bounces (or non-deliveries) for a period, as table, CSV, XLSX or JSON.

    bounced report --from 2026-01-01 --to 2026-02-01 [--mailing ID] [--group-by from-domain|ip]
                   [--format table|csv|xlsx|json] [--output FILE] [--kind soft|undelivered]

The period is [--from, --to) (bounced.cli.period): a bare --to date is excluded.
The table fits the terminal (the text columns are shortened); --wide shows every
column in full. Exit codes: 0 written, 1 no database / store problem / cannot
write, 2 bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import IO

from bounced.cli.common import add_config_option, check_output_path, config_from_args, missing_database
from bounced.cli.period import add_period_options, checked_period, parse_when
from bounced.clock import SystemClock
from bounced.errors import StoreError
from bounced.model import ReportGrouping
from bounced.report.export import (
    FORMATS,
    CsvWriter,
    JsonWriter,
    ReportWriter,
    TableWriter,
    XlsxReportWriter,
    write_report,
)
from bounced.report.softbounce import (
    ReportLayout,
    cached_describer,
    non_delivery_layout,
    non_delivery_values,
    soft_bounce_cell_values,
    soft_bounce_layout,
    soft_bounce_values,
)
from bounced.store import open_store
from bounced.store.base import ReportStore

__all__ = ["parse_when", "register"]

KINDS = ("soft", "undelivered")


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
        choices=KINDS,
        default="soft",
        help="soft: soft bounces (default); undelivered: deliveries given up after all resends",
    )
    add_config_option(p)
    p.set_defaults(func=_run)


def _usage_error(message: str) -> int:
    print(f"bounced report: error: {message}", file=sys.stderr)
    return 2


def _run(args: argparse.Namespace) -> int:
    end = args.end or SystemClock().now()
    problem = checked_period(args.start, end)
    if problem:
        return _usage_error(problem)
    if args.format == "xlsx" and not args.output:
        return _usage_error("--format xlsx needs --output FILE")
    config = config_from_args(args)  # ConfigError -> exit 2 in cli.main
    if args.output:
        check_output_path(args.output)  # OutputError -> one line, exit 1 in cli.main
    if missing_database(config):
        return 1

    async def main() -> int:
        store = await open_store(config.storage)
        try:
            await produce_report(
                store,
                start=args.start,
                end=end,
                kind=args.kind,
                group_by=ReportGrouping(args.group_by),
                mailing_id=args.mailing,
                fmt=args.format,
                output=args.output,
                wide=args.wide,
                fit=None if args.wide or args.output else terminal_width(),
            )
        finally:
            await store.close()
        return 0

    try:
        return asyncio.run(main())
    except StoreError as exc:
        print(f"bounced: store error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        raise  # `| head`: cli.main ends quietly
    except OSError as exc:
        print(f"bounced: cannot write report: {exc}", file=sys.stderr)
        return 1


async def produce_report(
    store: ReportStore,
    *,
    start: datetime,
    end: datetime,
    kind: str = "soft",
    group_by: ReportGrouping = ReportGrouping.FROM_DOMAIN,
    mailing_id: str | None = None,
    fmt: str = "table",
    output: str | None = None,
    wide: bool = False,
    fit: int | None = None,
) -> tuple[int, int]:
    """Write one report; returns (total, rows). A file output appears only when complete."""
    if kind == "soft":
        layout = soft_bounce_layout(group_by)
        describe = cached_describer()

        async def soft_batches() -> AsyncIterator[list[tuple[str | int, ...]]]:
            cell_batches = getattr(store, "soft_bounce_cell_batches", None)
            if cell_batches is not None:  # the SQLite store: plain tuples, no object per row
                async for cells in cell_batches(start, end, group_by, mailing_id):
                    yield soft_bounce_cell_values(cells, describe)
                return
            async for groups in store.soft_bounce_group_batches(start, end, group_by, mailing_id):
                yield [soft_bounce_values(g, describe) for g in groups]

        batches: AsyncIterator[list[tuple[str | int, ...]]] = soft_batches()
    else:
        layout = non_delivery_layout()

        async def undelivered_batches() -> AsyncIterator[list[tuple[str | int, ...]]]:
            batch: list[tuple[str | int, ...]] = []
            async for item in store.non_deliveries_between(start, end, mailing_id):
                batch.append(non_delivery_values(item))
                if len(batch) >= 2000:
                    yield batch
                    batch = []
            yield batch

        batches = undelivered_batches()
    meta = {
        "kind": kind,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "mailing": mailing_id,
        "group_by": group_by.value if kind == "soft" else None,
    }
    target = Path(output) if output else None
    partial = target.with_name(target.name + ".partial") if target else None
    try:
        with ExitStack() as stack:
            writer = _open_writer(stack, fmt, layout, partial, meta, wide, fit)
            result = await write_report(batches, writer, layout)
        if target is not None and partial is not None:
            os.replace(partial, target)
    finally:
        if partial is not None and partial.exists():
            partial.unlink()
    return result


def _open_writer(
    stack: ExitStack,
    fmt: str,
    layout: ReportLayout,
    path: Path | None,
    meta: Mapping[str, object],
    wide: bool = False,
    fit: int | None = None,
) -> ReportWriter:
    if fmt == "xlsx":
        assert path is not None
        return XlsxReportWriter(
            path, layout, sheet="Soft bounces" if meta["kind"] == "soft" else "Non-deliveries"
        )
    if fmt == "csv":
        sys.stdout.flush()
        binary: IO[bytes] = stack.enter_context(path.open("wb")) if path else sys.stdout.buffer
        return CsvWriter(binary, layout)
    text: IO[str] = stack.enter_context(path.open("w", encoding="utf-8")) if path else sys.stdout
    if fmt == "json":
        return JsonWriter(text, layout, meta)
    return TableWriter(text, layout, wide=wide, fit=fit)


def terminal_width() -> int | None:
    """The width of the terminal stdout goes to; None when it is not a terminal (a pipe or a
    file gets the columns at their usual widths)."""
    if not sys.stdout.isatty():
        return None
    return shutil.get_terminal_size().columns
