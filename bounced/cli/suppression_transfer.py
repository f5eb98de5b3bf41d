"""`bounced suppression export` and `bounced suppression import`: the whole list out as CSV or
JSON lines (streamed, keyset-paged), and back in (audited, idempotent).

    bounced suppression export [--format csv|jsonl] [--output FILE]
    bounced suppression import FILE|- --reason TEXT [--json]

Import exit codes: 0 every line taken (added or already present), 1 some lines invalid (the
valid ones are imported; the first invalid ones are named on stderr), 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO, Any

from bounced.cli.common import check_output_path
from bounced.clock import SystemClock
from bounced.service.suppressions import SuppressionService
from bounced.service.transfer import EXPORT_FORMATS, export_chunk, export_header
from bounced.store.base import ServiceStore

__all__ = ["register"]

Command = Callable[[ServiceStore, argparse.Namespace], Awaitable[int]]


def register(supp_sub: Any, common: Callable[..., None]) -> None:
    p = supp_sub.add_parser("export", help="the whole suppression list as CSV or JSON lines (streamed)")
    p.add_argument("--format", choices=EXPORT_FORMATS, default="csv", help="csv (default) or jsonl")
    p.add_argument("--output", metavar="FILE", help="write here (complete or not at all) instead of stdout")
    common(p, _export, needs_db=True)

    p = supp_sub.add_parser(
        "import", help="add the addresses of FILE (an export, JSON lines or one address a line; audited)"
    )
    p.add_argument("file", metavar="FILE", help="the file to read; - for stdin")
    p.add_argument("--reason", required=True, help="why (kept in the audit log of each added address)")
    common(p, _import, needs_db=False)


async def _export(store: ServiceStore, args: argparse.Namespace) -> int:
    if args.output:
        check_output_path(args.output)  # OutputError -> one line, exit 1 in cli.main
    service = SuppressionService(store, SystemClock())
    target = Path(args.output) if args.output else None
    partial = target.with_name(target.name + ".partial") if target else None
    count = 0
    try:
        out: IO[str] = partial.open("w", encoding="utf-8", newline="") if partial else sys.stdout
        try:
            out.write(export_header(args.format))
            async for batch in service.export_entries():
                out.write(export_chunk(args.format, batch))
                count += len(batch)
        finally:
            if partial is not None:
                out.close()
        if target is not None and partial is not None:
            os.replace(partial, target)
    finally:
        if partial is not None and partial.exists():
            partial.unlink()
    print(f"{count} suppressed address(es) exported", file=sys.stderr)
    return 0


async def _import(store: ServiceStore, args: argparse.Namespace) -> int:
    from bounced.cli.admin import current_actor

    service = SuppressionService(store, SystemClock())
    try:
        source: IO[str] = (
            sys.stdin if args.file == "-" else open(args.file, encoding="utf-8", newline="")  # noqa: SIM115
        )
    except OSError as exc:
        print(f"bounced: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 1
    with source:
        result = await service.import_lines(source, args.reason, current_actor())
    if args.json:
        json.dump(result.as_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(f"{result.added} added, {result.already_present} already present, {result.invalid} invalid")
    for problem in result.problems:
        print(f"bounced: {problem}", file=sys.stderr)
    if result.invalid > len(result.problems):
        print(
            f"bounced: ... and {result.invalid - len(result.problems)} more invalid line(s)", file=sys.stderr
        )
    return 1 if result.invalid else 0
