"""One SQL text for both backends: SQLite's `?` / `?N` placeholders as PostgreSQL's `$N`."""

from __future__ import annotations

import re
from functools import cache

__all__ = ["numbered", "rowcount"]

_MARK = re.compile(r"'[^']*'|\?(\d*)")


@cache
def numbered(sql: str) -> str:
    """`sql` with each `?` numbered in order ($1, $2 ...) and each `?N` as `$N`; string
    literals are left alone."""
    counter = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal counter
        if match.group(0).startswith("'"):
            return match.group(0)
        if match.group(1):
            return f"${match.group(1)}"
        counter += 1
        return f"${counter}"

    return _MARK.sub(replace, sql)


def rowcount(status: str) -> int:
    """The row count of a command status ("UPDATE 3", "INSERT 0 2", "DELETE 0")."""
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0
