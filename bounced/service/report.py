"""The soft-bounce (or non-delivery) report: one producer behind `bounced report`, the API's
JSON/CSV/XLSX downloads and the report page."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

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
    UNKNOWN,
    ReportLayout,
    cached_describer,
    non_delivery_layout,
    non_delivery_values,
    soft_bounce_cell_values,
    soft_bounce_layout,
)
from bounced.service.errors import InvalidInput
from bounced.service.values import event_dict, parse_when, valid_limit
from bounced.store.base import ReportingStore

__all__ = ["KINDS", "ReportQuery", "produce_report", "report_examples", "report_query"]

KINDS = ("soft", "undelivered")


@dataclass(frozen=True)
class ReportQuery:
    start: datetime
    end: datetime
    kind: str = "soft"
    group_by: ReportGrouping = ReportGrouping.FROM_DOMAIN
    mailing_id: str | None = None

    def meta(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "mailing": self.mailing_id,
            "group_by": self.group_by.value if self.kind == "soft" else None,
        }


def report_query(
    start: str | datetime | None,
    end: str | datetime | None,
    now: datetime,
    kind: str = "soft",
    group_by: str = ReportGrouping.FROM_DOMAIN.value,
    mailing_id: str | None = None,
) -> ReportQuery:
    """The checks `bounced report` and the API share; each problem names its parameter."""
    if start is None or start == "":
        raise InvalidInput("from", "required (YYYY-MM-DD or an ISO 8601 time)")
    begin = parse_when(start, "from") if isinstance(start, str) else start
    finish = now if end is None or end == "" else parse_when(end, "to") if isinstance(end, str) else end
    if finish <= begin:
        raise InvalidInput("to", f"({finish.isoformat()}) must be after from ({begin.isoformat()})")
    if kind not in KINDS:
        raise InvalidInput("kind", f"expected one of {', '.join(KINDS)}, got {kind!r}")
    try:
        grouping = ReportGrouping(group_by)
    except ValueError:
        choices = ", ".join(g.value for g in ReportGrouping)
        raise InvalidInput("group_by", f"expected one of {choices}, got {group_by!r}") from None
    return ReportQuery(begin, finish, kind, grouping, mailing_id or None)


def _batches(
    store: ReportingStore, q: ReportQuery
) -> tuple[ReportLayout, AsyncIterator[list[tuple[str | int, ...]]]]:
    if q.kind == "soft":
        describe = cached_describer()

        async def soft_batches() -> AsyncIterator[list[tuple[str | int, ...]]]:
            async for cells in store.soft_bounce_cell_batches(q.start, q.end, q.group_by, q.mailing_id):
                yield soft_bounce_cell_values(cells, describe)

        return soft_bounce_layout(q.group_by), soft_batches()

    async def undelivered_batches() -> AsyncIterator[list[tuple[str | int, ...]]]:
        batch: list[tuple[str | int, ...]] = []
        async for item in store.non_deliveries_between(q.start, q.end, q.mailing_id):
            batch.append(non_delivery_values(item))
            if len(batch) >= 2000:
                yield batch
                batch = []
        yield batch

    return non_delivery_layout(), undelivered_batches()


async def produce_report(
    store: ReportingStore,
    query: ReportQuery,
    fmt: str = "table",
    output: str | os.PathLike[str] | None = None,
    *,
    wide: bool = False,
    fit: int | None = None,
) -> tuple[int, int]:
    """Write one report to `output` (stdout when None); returns (total, rows). A file
    output appears only when complete."""
    if fmt not in FORMATS:
        raise InvalidInput("format", f"expected one of {', '.join(FORMATS)}, got {fmt!r}")
    layout, batches = _batches(store, query)
    target = Path(output) if output else None
    partial = target.with_name(target.name + ".partial") if target else None
    try:
        with ExitStack() as stack:
            writer = _open_writer(stack, fmt, layout, partial, query.meta(), wide, fit)
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
    meta: dict[str, object],
    wide: bool = False,
    fit: int | None = None,
) -> ReportWriter:
    if fmt == "xlsx":
        if path is None:
            raise InvalidInput("output", "the xlsx format needs a file to write")
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


async def report_examples(
    store: ReportingStore,
    query: ReportQuery,
    group: str,
    recipient_domain: str,
    text_key: str,
    limit: int = 20,
    with_raw: bool = True,
) -> list[dict[str, Any]]:
    """A report row's drill-down: the soft bounces it counts (newest first), each with its
    diagnostic and, where retention kept it, the raw bounce message."""
    if query.kind != "soft":
        raise InvalidInput("kind", "examples exist for the soft-bounce report only")
    valid_limit(limit, maximum=200)
    events = await store.soft_bounce_examples(
        query.start,
        query.end,
        query.group_by,
        None if group in ("", UNKNOWN) else group,
        "" if recipient_domain == UNKNOWN else recipient_domain,
        text_key,
        query.mailing_id,
        limit,
    )
    out = []
    for e in events:
        data = event_dict(e)
        data["raw"] = None
        if with_raw and e.intake_id is not None:
            intake = await store.get_intake(e.intake_id)
            if intake is not None and intake.raw_pruned_at is None and intake.raw:
                data["raw"] = intake.raw.decode("utf-8", "replace")
        out.append(data)
    return out
