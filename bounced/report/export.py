"""Report writers: aligned table, CSV (RFC 4180, UTF-8 with BOM), XLSX, JSON. All stream.

Each writer takes rows in batches (`write_rows`) and a total at the end (`finish`), so a
report of any size is written in bounded memory. `write_report` feeds a writer from an
async source of batches, running the writer's (blocking) work in a thread so an event
loop that calls it is never stalled by file or XLSX writing.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Protocol

from bounced.report.softbounce import ReportLayout

__all__ = [
    "FORMATS",
    "CsvWriter",
    "JsonWriter",
    "ReportWriter",
    "TableWriter",
    "XlsxReportWriter",
    "csv_safe",
    "write_report",
]

FORMATS = ("table", "csv", "xlsx", "json")
Row = Sequence[str | int]
_XLSX_CELL_MAX = 32_767  # Excel's limit for one cell's text


class ReportWriter(Protocol):
    def write_rows(self, rows: Sequence[Row]) -> None: ...

    def finish(self, total: int, row_count: int) -> None: ...


_FORMULA_STARTS = frozenset("=+-@\t\r")


def csv_safe(value: str | int) -> str | int:
    """Bounce texts come from remote servers: a leading = + - @ would be a formula in a
    spreadsheet (CSV injection), so such a cell gets a leading apostrophe."""
    if isinstance(value, str) and value[:1] in _FORMULA_STARTS:
        return "'" + value
    return value


class TableWriter:
    """Columns aligned for a terminal. Widths come from the first rows (bounded buffer),
    capped per column; longer text is shortened with an ellipsis (exports keep it whole).
    `fit`: the text columns shrink, widest first, until a line fits that many characters;
    `wide`: no cap at all."""

    def __init__(
        self,
        stream: IO[str],
        layout: ReportLayout,
        sample: int = 1000,
        *,
        wide: bool = False,
        fit: int | None = None,
    ) -> None:
        self._stream = stream
        self._layout = layout
        self._sample = sample
        self._wide = wide
        self._fit = fit
        self._buffer: list[Row] = []
        self._widths: list[int] | None = None

    def write_rows(self, rows: Sequence[Row]) -> None:
        if self._widths is None:
            self._buffer.extend(rows)
            if len(self._buffer) >= self._sample:
                self._flush_buffer()
            return
        self._emit(rows)

    def _flush_buffer(self) -> None:
        widths = []
        for i, col in enumerate(self._layout.columns):
            longest = max((len(str(r[i])) for r in self._buffer), default=0)
            width = max(len(col.title), longest)
            widths.append(width if col.numeric or self._wide else min(width, max(col.width, len(col.title))))
        if self._fit is not None:
            _shrink_to(widths, self._layout, self._fit)
        self._widths = widths
        self._line([c.title for c in self._layout.columns])
        self._stream.write("  ".join("-" * w for w in widths) + "\n")
        self._emit(self._buffer)
        self._buffer = []

    def _emit(self, rows: Sequence[Row]) -> None:
        for row in rows:
            self._line(row)

    def _line(self, values: Sequence[str | int]) -> None:
        assert self._widths is not None
        cells = []
        for value, width, col in zip(values, self._widths, self._layout.columns, strict=True):
            text = str(value)
            if len(text) > width:
                text = text[: width - 1] + "…"
            cells.append(text.rjust(width) if col.numeric else text.ljust(width))
        self._stream.write("  ".join(cells).rstrip() + "\n")

    def finish(self, total: int, row_count: int) -> None:
        if self._widths is None:
            self._flush_buffer()
        assert self._widths is not None
        self._stream.write("  ".join("-" * w for w in self._widths) + "\n")
        self._line(_total_row(self._layout, total))
        self._stream.write(f"({row_count} rows)\n")
        self._stream.flush()


_MIN_TEXT_WIDTH = 8
_FREE_TEXT_WIDTH = 40  # columns this wide in the layout hold free text (bounce text, example)


def _shrink_to(widths: list[int], layout: ReportLayout, limit: int) -> None:
    """Narrow the text columns, one character at a time from the widest, until the line
    (columns and two-space gaps) fits `limit`: the free-text columns first, the short ones
    (domains, reason) only when that is not enough."""
    floors = [
        w if c.numeric else min(w, max(_MIN_TEXT_WIDTH, len(c.title)))
        for w, c in zip(widths, layout.columns, strict=True)
    ]
    excess = sum(widths) + 2 * (len(widths) - 1) - limit
    free = [i for i, c in enumerate(layout.columns) if c.width >= _FREE_TEXT_WIDTH]
    for candidates in (free, list(range(len(widths)))):
        while excess > 0 and candidates:
            i = max(candidates, key=lambda k: widths[k] - floors[k])
            if widths[i] <= floors[i]:
                break
            widths[i] -= 1
            excess -= 1


def _csv_field(value: str | int) -> str:
    """One CSV cell exactly as `csv.writer` (QUOTE_MINIMAL, doubled quotes) writes it, after
    `csv_safe`; a few C-speed scans instead of the csv module's per-character loop."""
    if value.__class__ is not str:
        return "" if value is None else str(value)
    if value[:1] in _FORMULA_STARTS:
        value = "'" + value
    if '"' in value:
        return '"' + value.replace('"', '""') + '"'
    if "," in value or "\n" in value or "\r" in value:
        return '"' + value + '"'
    return value


class CsvWriter:
    """RFC 4180: comma, double quotes, CRLF; UTF-8 with a BOM so Excel and LibreOffice read
    non-ASCII text right. The last row is the total.

    Rows are formatted in Python (`_csv_field`, byte for byte what `csv.writer` writes) and
    each batch goes to the file as one encoded chunk: the csv module's per-character loop
    was the slowest part of a month's 60 MB report."""

    def __init__(self, stream: IO[bytes], layout: ReportLayout) -> None:
        self._stream = stream
        self._layout = layout
        self._stream.write("\ufeff".encode())
        self._write_with_csv([[c.title for c in layout.columns]])

    def _write_with_csv(self, rows: Sequence[Sequence[str | int]]) -> None:
        buffer = io.StringIO(newline="")
        csv.writer(buffer, lineterminator="\r\n").writerows(rows)
        self._stream.write(buffer.getvalue().encode("utf-8"))

    def write_rows(self, rows: Sequence[Row]) -> None:
        if not rows:
            return
        # Within a batch the same group, text, label and description recur on many rows:
        # each distinct cell is formatted once (the cache lives for this batch only).
        done: dict[str | int, str] = {}
        get, field = done.get, _csv_field
        lines = []
        for row in rows:
            cells = []
            for value in row:
                cell = get(value)
                if cell is None:
                    cell = done[value] = field(value)
                cells.append(cell)
            lines.append(",".join(cells))
        lines.append("")
        self._stream.write("\r\n".join(lines).encode("utf-8"))

    def finish(self, total: int, row_count: int) -> None:
        self._write_with_csv([_total_row(self._layout, total)])
        self._stream.flush()


class XlsxReportWriter:
    """A real workbook, written row by row (constant_memory): header, frozen header row,
    autofilter, column widths, full text (up to Excel's 32,767 characters a cell), total."""

    def __init__(self, path: str | Path, layout: ReportLayout, sheet: str = "Soft bounces") -> None:
        import xlsxwriter  # loaded for XLSX reports only

        self._layout = layout
        self._book = xlsxwriter.Workbook(
            str(path), {"constant_memory": True, "strings_to_urls": False, "strings_to_formulas": False}
        )
        self._sheet = self._book.add_worksheet(sheet[:31])
        self._bold = self._book.add_format({"bold": True})
        for i, col in enumerate(layout.columns):
            self._sheet.set_column(i, i, min(max(col.width, len(col.title) + 2), 80))
        self._sheet.write_row(0, 0, [c.title for c in layout.columns], self._bold)
        self._sheet.freeze_panes(1, 0)
        self._row = 1

    def _write(self, row: Row, fmt: Any = None) -> None:
        for col, value in enumerate(row):
            if isinstance(value, int):
                self._sheet.write_number(self._row, col, value, fmt)
            else:
                self._sheet.write_string(self._row, col, value[:_XLSX_CELL_MAX], fmt)
        self._row += 1

    def write_rows(self, rows: Sequence[Row]) -> None:
        write_string, write_number, r = self._sheet.write_string, self._sheet.write_number, self._row
        for row in rows:
            for col, value in enumerate(row):
                if isinstance(value, int):
                    write_number(r, col, value)
                else:
                    write_string(r, col, value if len(value) <= _XLSX_CELL_MAX else value[:_XLSX_CELL_MAX])
            r += 1
        self._row = r

    def finish(self, total: int, row_count: int) -> None:
        last_data_row = self._row - 1
        self._sheet.autofilter(0, 0, max(last_data_row, 1), len(self._layout.columns) - 1)
        self._write(_total_row(self._layout, total), self._bold)
        import xlsxwriter.exceptions

        try:
            self._book.close()
        except xlsxwriter.exceptions.FileCreateError as exc:  # not an OSError of its own
            cause = exc.__context__ if isinstance(exc.__context__, OSError) else None
            raise OSError(cause.errno if cause else None, str(cause.strerror if cause else exc)) from exc


class JsonWriter:
    """One JSON document: {"meta": ..., "columns": [...], "rows": [{...}], "total": N}."""

    def __init__(self, stream: IO[str], layout: ReportLayout, meta: Mapping[str, object]) -> None:
        self._stream = stream
        self._keys = layout.keys
        self._first = True
        self._encoder = json.JSONEncoder(ensure_ascii=False)
        head = json.dumps({"meta": dict(meta), "columns": list(self._keys)}, ensure_ascii=False)
        self._stream.write(head[:-1] + ', "rows": [')

    def write_rows(self, rows: Sequence[Row]) -> None:
        if not rows:
            return
        keys = self._keys
        # One encoder call per batch (a batch per line): `[{...}, {...}]` minus the brackets.
        body = self._encoder.encode([dict(zip(keys, row, strict=True)) for row in rows])[1:-1]
        self._stream.write(("\n" if self._first else ",\n") + body)
        self._first = False

    def finish(self, total: int, row_count: int) -> None:
        self._stream.write(f'\n], "total": {total}, "row_count": {row_count}}}\n')
        self._stream.flush()


def _total_row(layout: ReportLayout, total: int) -> list[str | int]:
    cells: list[str | int] = [""] * len(layout.columns)
    cells[0] = "Total"
    if layout.total_column is not None:
        cells[layout.keys.index(layout.total_column)] = total
    else:
        cells[1] = total  # a list report: the number of entries
    return cells


async def write_report(
    batches: AsyncIterable[Sequence[Row]], writer: ReportWriter, layout: ReportLayout
) -> tuple[int, int]:
    """Stream batches of rows into `writer`, each written off the event loop (a thread);
    returns (total, row count)."""
    index = layout.keys.index(layout.total_column) if layout.total_column else None
    total = count = 0
    async for batch in batches:
        if not batch:
            continue
        count += len(batch)
        total += sum(int(row[index]) for row in batch) if index is not None else len(batch)
        await asyncio.to_thread(writer.write_rows, batch)
    await asyncio.to_thread(writer.finish, total, count)
    return total, count
