"""`bounced parse [--json] [--config FILE] PATH...`: show what bounced makes of bounce files.

PATH is a message file, a directory of them (recursive, sorted), or an mbox (a file whose
first line starts with "From "). One line per bounced recipient; a message with no bounce
gives one line of kind "none"; input that is not mail at all (empty, binary) one line of
kind "unparseable", as the daemon marks it (and "failed" where the parser crashed, as the
daemon quarantines it). On a terminal, stderr shows the count and rate as it goes.

Exit status: 0 when the input held mail; 1 when an input could not be read (the rest are
still processed) or when nothing in the input was mail (no message at all, as in an empty
directory, or only unparseable ones), said on stderr.
"""

from __future__ import annotations

import argparse
import json
import mailbox
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bounced.cli.common import add_config_option, config_from_args
from bounced.model import ClassifiedFailure, ParsedMessage

__all__ = ["FIELDS", "register", "rows_for_analysis", "run"]

FIELDS = (
    "file",
    "recipient",
    "action",
    "status",
    "reply_code",
    "diagnostic",
    "kind",
    "reason",
    "retry_after",
    "remote_mta",
    "message_id",
    "mailing_id",
    "return_path",
)
_TABLE = (("file", 28), ("recipient", 34), ("kind", 9), ("reason", 15), ("status", 7), ("code", 4))


if TYPE_CHECKING:
    from bounced.apply.analyse import Analysis


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("parse", help="parse bounce messages and show each bounced recipient")
    p.add_argument("paths", nargs="+", metavar="PATH", help="message file, directory, or mbox")
    p.add_argument("--json", action="store_true", help="one JSON object per line per recipient")
    add_config_option(p)
    p.set_defaults(func=run)


class _Unreadable(Exception):
    def __init__(self, label: str, error: str) -> None:
        super().__init__(f"{label}: {error}")


def _is_mbox(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(5) == b"From "


def _messages(path: Path) -> Iterator[tuple[str, bytes] | _Unreadable]:
    """(label, raw) for every message under `path`, or an _Unreadable for what cannot be read."""
    if path.is_dir():
        try:
            files = sorted(p for p in path.rglob("*") if p.is_file())
        except OSError as exc:
            yield _Unreadable(str(path), exc.strerror or str(exc))
            return
        for file in files:
            yield from _messages(file)
        return
    try:
        if _is_mbox(path):
            box = mailbox.mbox(str(path), create=False)
            try:
                for n, key in enumerate(box.keys(), start=1):
                    yield f"{path}:{n}", box.get_bytes(key)
            finally:
                box.close()
            return
        yield str(path), path.read_bytes()
    except OSError as exc:
        yield _Unreadable(str(path), exc.strerror or str(exc))


def rows_for_analysis(label: str, analysis: Analysis) -> list[dict[str, Any]]:
    """The output rows for one message as the daemon sees it (`bounced.apply.analyse`)."""
    from bounced.apply.analyse import AnalysisOutcome  # the classifier loads only for `parse`

    if analysis.outcome is not AnalysisOutcome.PARSED or analysis.parsed is None:
        row: dict[str, Any] = dict.fromkeys(FIELDS)
        kind = "unparseable" if analysis.outcome is AnalysisOutcome.UNPARSEABLE else "failed"
        row.update(file=label, kind=kind, diagnostic=analysis.error)
        return [row]
    return _rows(label, analysis.parsed, analysis.classified)


def _rows(label: str, parsed: ParsedMessage, classified: Iterable[ClassifiedFailure]) -> list[dict[str, Any]]:
    original = parsed.original
    common = {
        "message_id": original.message_id,
        "mailing_id": original.mailing_id,
        "return_path": original.return_path,
    }
    if not parsed.failures:
        row: dict[str, Any] = dict.fromkeys(FIELDS)
        row.update(common, file=label, kind="none")
        return [row]
    rows = []
    for cf in classified:
        f = cf.failure
        rows.append(
            {
                "file": label,
                "recipient": f.recipient,
                "action": str(f.action),
                "status": f.status,
                "reply_code": f.reply_code,
                "diagnostic": f.diagnostic,
                "kind": str(cf.kind),
                "reason": str(cf.reason),
                "retry_after": cf.classification.retry_after,
                "remote_mta": f.remote_mta,
                **common,
            }
        )
    return rows


def _print_table(rows: list[dict[str, Any]]) -> None:
    widths = {name: max([len(name)] + [len(_cell(r, name)) for r in rows]) for name, _ in _TABLE}
    widths = {name: min(widths[name], cap) if name == "file" else widths[name] for name, cap in _TABLE}
    header = "  ".join(name.upper().ljust(widths[name]) for name, _ in _TABLE) + "  DIAGNOSTIC"
    print(header)
    for r in rows:
        cells = [_fit(_cell(r, name), widths[name]) for name, _ in _TABLE]
        diagnostic = r.get("diagnostic") or ""
        print("  ".join(cells) + "  " + (diagnostic[:97] + "..." if len(diagnostic) > 100 else diagnostic))


def _cell(row: dict[str, Any], name: str) -> str:
    value = row.get("reply_code" if name == "code" else name)
    return "-" if value is None else str(value)


def _fit(text: str, width: int) -> str:
    if len(text) > width:
        return "..." + text[-(width - 3) :] if width > 3 else text[:width]
    return text.ljust(width)


def _stderr_size() -> tuple[int, int]:
    """The terminal's size; a terminal that reports none (a fresh pty, a serial console)
    counts as 80x24, since tqdm prints nothing at all on a 0x0 one."""
    try:
        size = os.get_terminal_size(sys.stderr.fileno())
    except (OSError, ValueError):
        return 80, 24
    return size.columns or 80, size.lines or 24


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from bounced.apply.analyse import AnalysisOutcome, analyse

    config = config_from_args(args).classify
    failed = False
    messages = mail = 0
    table: list[dict[str, Any]] = []
    # On a terminal only; not beside JSON lines streaming to the same terminal (the table
    # is printed at the end, below the finished count).
    on_terminal = sys.stderr.isatty() and not (args.json and sys.stdout.isatty())
    columns, lines = _stderr_size() if on_terminal else (80, 24)
    with tqdm(
        unit=" msg", file=sys.stderr, disable=not on_terminal, mininterval=0.25, ncols=columns, nrows=lines
    ) as progress:
        for path_arg in args.paths:
            path = Path(path_arg)
            if not path.exists():
                progress.write(f"bounced parse: {path}: no such file or directory", file=sys.stderr)
                failed = True
                continue
            for item in _messages(path):
                if isinstance(item, _Unreadable):
                    progress.write(f"bounced parse: cannot read {item}", file=sys.stderr)
                    failed = True
                    continue
                label, raw = item
                analysis = analyse(raw, config)
                messages += 1
                mail += analysis.outcome is not AnalysisOutcome.UNPARSEABLE
                progress.update()
                rows = rows_for_analysis(label, analysis)
                if args.json:
                    for row in rows:
                        print(json.dumps(row, ensure_ascii=False))
                else:
                    table.extend(rows)
    if not args.json and table:
        _print_table(table)
    if not mail:
        what = "no message" if not messages else f"none of {messages} message(s) is mail (unparseable)"
        print(f"bounced parse: no mail in the input: {what}", file=sys.stderr)
        return 1
    return 1 if failed else 0
