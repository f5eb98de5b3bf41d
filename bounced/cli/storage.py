"""`bounced storage copy --from sqlite:PATH --to postgresql://...`: move an installation."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bounced.errors import StoreError

__all__ = ["register"]


def _sqlite_source(text: str) -> str:
    if not text.startswith("sqlite:"):
        raise argparse.ArgumentTypeError(f"expected sqlite:PATH (an existing database file), got {text!r}")
    path = text.removeprefix("sqlite:").removeprefix("//")
    if not Path(path).is_file():
        raise argparse.ArgumentTypeError(f"no SQLite database at {path}")
    return path


def _postgres_target(text: str) -> str:
    if not text.startswith(("postgresql://", "postgres://")):
        raise argparse.ArgumentTypeError(f"expected postgresql://user@host:port/database, got {text!r}")
    return text


if TYPE_CHECKING:
    from bounced.store.copy import CopyResult, TableCopy


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    storage = sub.add_parser("storage", help="move an installation between store backends")
    storage_sub = storage.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = storage_sub.add_parser(
        "copy",
        help="copy a SQLite installation into PostgreSQL (ids kept, resumable, idempotent, counts verified)",
    )
    p.add_argument("--from", dest="source", type=_sqlite_source, required=True, metavar="sqlite:PATH")
    p.add_argument("--to", dest="target", type=_postgres_target, required=True, metavar="postgresql://...")
    p.add_argument("--batch", type=int, default=5000, help="rows per INSERT (default 5000)")
    p.set_defaults(func=_copy)


def _copy(args: argparse.Namespace) -> int:
    from bounced.store.copy import copy_sqlite_to_postgres  # both backends load only here

    def progress(table: TableCopy) -> None:
        print(f"copied {table.table}: {table.copied} new of {table.source}", file=sys.stderr, flush=True)

    try:
        result = asyncio.run(copy_sqlite_to_postgres(args.source, args.target, args.batch, progress))
    except StoreError as exc:
        print(f"bounced: storage copy: {exc}", file=sys.stderr)
        return 1
    _print_summary(result)
    if result.mismatches:
        for table in result.mismatches:
            print(
                f"bounced: storage copy: {table.table} differs after the copy:"
                f" source {_figure(table, 'source')}, target {_figure(table, 'target')}"
                " (rows written to the target by something else? copy into an empty database)",
                file=sys.stderr,
            )
        return 1
    print("nothing new copied: the target already held every row" if result.copied == 0 else "copy verified")
    return 0


def _figure(table: TableCopy, side: str) -> str:
    rows, total = getattr(table, side), getattr(table, f"{side}_sum")
    return f"{rows} rows" if total is None else f"{rows} rows summing {total}"


def _print_summary(result: CopyResult) -> None:
    print(f"{'table':<22} {'source':>10} {'copied':>10} {'target':>10}  check")
    for t in result.tables:
        check = "ok" if t.matches else "MISMATCH"
        print(f"{t.table:<22} {t.source:>10} {t.copied:>10} {t.target:>10}  {check}")
