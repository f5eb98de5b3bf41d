"""Shaping the soft-bounce report: store cells -> report rows with reason descriptions.

Pure: no I/O. The store already counted (exactly) and sorted; this adds the human side
(unknown groups, the reason label and description) and the columns every format shares.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bounced.classify.soft_texts import describe_bounce_text
from bounced.model import NonDelivery, ReportGrouping, SoftBounceGroup

__all__ = [
    "UNKNOWN",
    "Column",
    "Describer",
    "ReportLayout",
    "SoftBounceRow",
    "cached_describer",
    "non_delivery_layout",
    "non_delivery_values",
    "soft_bounce_cell_values",
    "soft_bounce_layout",
    "soft_bounce_row",
    "soft_bounce_values",
]

UNKNOWN = "(unknown)"

# (diagnostic, reply code, reason) -> (label, description)
Describer = Callable[[str, int | None, str], tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Column:
    key: str  # JSON key
    title: str  # header in table, CSV and XLSX
    width: int  # table/XLSX width in characters; the table view shortens longer text
    numeric: bool = False


@dataclass(frozen=True, slots=True)
class ReportLayout:
    columns: tuple[Column, ...]
    total_column: str | None  # key of the column the total row sums; None: count of rows

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(c.key for c in self.columns)


@dataclass(frozen=True, slots=True)
class SoftBounceRow:
    group: str
    recipient_domain: str
    bounce_text: str
    example: str
    reason: str  # short label ("Greylisted")
    description: str
    reason_code: str  # the classifier's Reason value ("greylisted")
    amount: int

    def values(self) -> tuple[str | int, ...]:
        return (
            self.group,
            self.recipient_domain,
            self.bounce_text,
            self.example,
            self.reason,
            self.description,
            self.reason_code,
            self.amount,
        )


def soft_bounce_layout(group_by: ReportGrouping) -> ReportLayout:
    group_title = "From domain" if ReportGrouping(group_by) is ReportGrouping.FROM_DOMAIN else "Sending IP"
    return ReportLayout(
        columns=(
            Column("group", group_title, 22),
            Column("recipient_domain", "Recipient domain", 22),
            Column("bounce_text", "Bounce text", 60),
            Column("example", "Example", 40),
            Column("reason", "Reason", 20),
            Column("description", "Description", 40),
            Column("reason_code", "Reason code", 14),
            Column("amount", "Amount", 8, numeric=True),
        ),
        total_column="amount",
    )


def cached_describer(describe: Describer = describe_bounce_text, limit: int = 65_536) -> Describer:
    """`describe` with a bounded cache: a big report repeats the same few hundred texts."""
    cache: dict[tuple[str, int | None, str], tuple[str, str]] = {}

    def lookup(text: str, reply_code: int | None, reason: str) -> tuple[str, str]:
        key = (text, reply_code, reason)
        found = cache.get(key)
        if found is None:
            found = describe(text, reply_code, reason)
            if len(cache) >= limit:
                cache.clear()
            cache[key] = found
        return found

    return lookup


def soft_bounce_values(group: SoftBounceGroup, describe: Describer) -> tuple[str | int, ...]:
    """One report row as the cells of `soft_bounce_layout` (the hot path of big reports).

    The description is of the normalised text, so it holds for every message the row
    counts (e.g. "retry after the delay it names", not one message's 120 seconds)."""
    reason_code = group.reason or "undefined"
    label, description = describe(group.text_key, group.reply_code, reason_code)
    return (
        group.group or UNKNOWN,
        group.recipient_domain or UNKNOWN,
        group.text_key,
        group.example if group.example is not None else group.text_key,
        label,
        description,
        reason_code,
        group.amount,
    )


def soft_bounce_cell_values(
    cells: Sequence[Sequence[Any]], describe: Describer
) -> list[tuple[str | int, ...]]:
    """`soft_bounce_values` for a batch of plain cells in `SoftBounceGroup`'s field order
    (group, recipient domain, text key, amount, example, reply code, status, reason)."""
    out: list[tuple[str | int, ...]] = []
    append = out.append
    for group, domain, text_key, amount, example, reply_code, _status, reason in cells:
        reason_code = reason or "undefined"
        label, description = describe(text_key, reply_code, reason_code)
        append(
            (
                group or UNKNOWN,
                domain or UNKNOWN,
                text_key,
                example if example is not None else text_key,
                label,
                description,
                reason_code,
                amount,
            )
        )
    return out


def soft_bounce_row(group: SoftBounceGroup, describe: Describer) -> SoftBounceRow:
    """One report row, named (for callers other than the writers)."""
    return SoftBounceRow(*soft_bounce_values(group, describe))  # type: ignore[arg-type]  # the values tuple is typed by column kind, not per field


def non_delivery_layout() -> ReportLayout:
    return ReportLayout(
        columns=(
            Column("at", "Given up at (UTC)", 20),
            Column("recipient", "Recipient", 30),
            Column("mailing_id", "Mailing", 12),
            Column("from_domain", "From domain", 22),
            Column("sending_ip", "Sending IP", 15),
            Column("attempts", "Attempts", 8, numeric=True),
            Column("last_bounce_text", "Last bounce text", 60),
        ),
        total_column=None,
    )


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S")


def non_delivery_values(item: NonDelivery) -> tuple[str | int, ...]:
    return (
        _iso(item.at),
        item.recipient,
        item.mailing_id or UNKNOWN,
        item.from_domain or UNKNOWN,
        item.sending_ip or UNKNOWN,
        item.attempts,
        item.last_bounce_text,
    )
