"""`--from DATE --to DATE`: one date parser and one meaning of a period for every command.

A period is half-open, [--from, --to): `--from` is included, `--to` is not. A bare date is
midnight UTC at the start of that day, so `--from 2026-03-01 --to 2026-04-01` is March and
`--to 2026-03-02` stops before 2 March. A --to before or equal to --from is refused (exit 2).
"""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime

__all__ = ["FORMS", "TO_HELP", "add_period_options", "checked_period", "parse_when"]

FORMS = "YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+HH:MM|Z]"
TO_HELP = "end, excluded: a bare date means midnight UTC at the start of that day"


def parse_when(text: str) -> datetime:
    """`2026-01-31`, `2026-01-31T08:00`, `2026-01-31 08:00:00+02:00`, `...Z`: aware, UTC default."""
    value = text.strip()
    try:
        if len(value) == 10:
            d = date.fromisoformat(value)
            return datetime(d.year, d.month, d.day, tzinfo=UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date or date-time (expected {FORMS})") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def add_period_options(
    parser: argparse.ArgumentParser, *, from_required: bool, to_default: str, start: str, end: str
) -> None:
    """--from and --to (dest `start`/`end`), with the period's meaning in --help."""
    parser.add_argument(
        "--from",
        dest=start,
        required=from_required,
        type=parse_when,
        metavar="DATE",
        help=f"start, included ({FORMS}; UTC unless an offset is given)",
    )
    parser.add_argument(
        "--to", dest=end, type=parse_when, metavar="DATE", help=f"{TO_HELP} (default: {to_default})"
    )


def checked_period(start: datetime | None, end: datetime | None) -> str | None:
    """The usage problem of a period, or None: --to must come after --from."""
    if start is not None and end is not None and end <= start:
        return (
            f"--to ({end.isoformat()}) must be after --from ({start.isoformat()}): "
            "the period is [--from, --to)"
        )
    return None
