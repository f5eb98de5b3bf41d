"""The suppression list's file forms: CSV (with a header) and JSON lines, written by
`export`, read by `import` (which also takes a plain list, one address a line)."""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bounced.model import SuppressionEntry
from bounced.service.errors import InvalidInput
from bounced.service.values import parse_when, valid_address

__all__ = [
    "EXPORT_COLUMNS",
    "EXPORT_FORMATS",
    "ImportLine",
    "export_chunk",
    "export_header",
    "parse_import_lines",
]

EXPORT_FORMATS = ("csv", "jsonl")
EXPORT_COLUMNS = ("address", "reason", "created_at", "created_by", "note", "bounce_event_id")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


@dataclass(frozen=True)
class ImportLine:
    entry: SuppressionEntry


def _record(e: SuppressionEntry) -> dict[str, Any]:
    return {
        "address": e.address,
        "reason": e.reason,
        "created_at": e.created_at.isoformat(),
        "created_by": e.created_by,
        "note": e.note,
        "bounce_event_id": e.bounce_event_id,
    }


def export_header(fmt: str) -> str:
    if fmt == "csv":
        return ",".join(EXPORT_COLUMNS) + "\r\n"
    return ""


def export_chunk(fmt: str, entries: Iterable[SuppressionEntry]) -> str:
    if fmt == "jsonl":
        return "".join(json.dumps(_record(e), ensure_ascii=False) + "\n" for e in entries)
    out = io.StringIO()
    writer = csv.writer(out)
    for e in entries:
        r = _record(e)
        # An empty note and no note differ: "" is written quoted, None as nothing.
        writer.writerow(["" if r[k] is None else r[k] for k in EXPORT_COLUMNS])
    return out.getvalue()


def _entry(
    data: dict[str, Any], default_created_by: str, default_reason: str, now: datetime
) -> SuppressionEntry:
    address = valid_address(str(data.get("address") or ""), "address")
    created = data.get("created_at")
    note = data.get("note")
    return SuppressionEntry(
        address=address,
        reason=str(data.get("reason") or default_reason),
        created_at=parse_when(str(created), "created_at") if created else now,
        created_by=str(data.get("created_by") or default_created_by),
        note=None if note in (None, "") else str(note),
    )


def parse_import_lines(
    lines: Iterable[bytes | str], *, default_created_by: str, default_reason: str, now: datetime
) -> Iterator[ImportLine | str]:
    """Each good line as an ImportLine, each bad one as a message naming its line number.
    The form is told by the first line: `{` JSON lines, `address,...` CSV, else addresses."""
    text_lines = (ln.decode("utf-8", "replace") if isinstance(ln, bytes) else ln for ln in lines)
    first: list[str] = []
    for ln in text_lines:
        if ln.strip():
            first.append(ln)
            break
    if not first:
        return
    stream = itertools.chain(first, text_lines)
    head = first[0].lstrip("\ufeff").strip()
    if head.startswith("{"):
        for number, ln in enumerate(stream, 1):
            if not ln.strip():
                continue
            try:
                data = json.loads(ln)
                if not isinstance(data, dict):
                    raise ValueError("not a JSON object")
                yield ImportLine(_entry(data, default_created_by, default_reason, now))
            except (ValueError, InvalidInput) as exc:
                yield f"line {number}: {exc}"
        return
    if head.split(",")[0].strip().lower() == "address":
        reader = csv.reader(stream)
        columns = [c.strip().lower().lstrip("\ufeff") for c in next(reader)]
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            try:
                data = dict(zip(columns, row, strict=False))
                yield ImportLine(_entry(data, default_created_by, default_reason, now))
            except InvalidInput as exc:
                yield f"line {reader.line_num}: {exc}"
        return
    for number, ln in enumerate(stream, 1):
        if not ln.strip():
            continue
        try:
            yield ImportLine(_entry({"address": ln.strip()}, default_created_by, default_reason, now))
        except InvalidInput as exc:
            yield f"line {number}: {exc}"
