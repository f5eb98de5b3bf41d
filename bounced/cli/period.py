"""`--from DATE --to DATE`: one date parser and one meaning of a period for every command.

A period is half-open, [--from, --to): `--from` is included, `--to` is not. A bare date is
midnight UTC at the start of that day, so `--from 2026-03-01 --to 2026-04-01` is March and
`--to 2026-03-02` stops before 2 March. A --to before or equal to --from is refused (exit 2).
"""

from __future__ import annotations

import argparse
from datetime import datetime

from bounced.service.errors import InvalidInput
from bounced.service.values import parse_when as service_parse_when

__all__ = ["FORMS", "TO_HELP", "add_period_options", "checked_period", "parse_when"]

FORMS = "YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+HH:MM|Z]"
TO_HELP = "end, excluded: a bare date means midnight UTC at the start of that day"


def parse_when(text: str) -> datetime:
    """The service layer's date parser (the API uses it too), as an argparse type."""
    try:
        return service_parse_when(text)
    except InvalidInput as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


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
