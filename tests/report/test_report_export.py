"""Report shaping and the writers: CSV round trip, XLSX read back, JSON, aligned table."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import openpyxl

from bounced.model import NonDelivery, ReportGrouping, SoftBounceGroup
from bounced.report.export import CsvWriter, JsonWriter, TableWriter, XlsxReportWriter, csv_safe, write_report
from bounced.report.softbounce import (
    UNKNOWN,
    cached_describer,
    non_delivery_layout,
    non_delivery_values,
    soft_bounce_layout,
    soft_bounce_row,
    soft_bounce_values,
)

LONG = "452 4.2.2 " + "Postfach voll - bitte später erneut versuchen. " * 120  # > 5,000 characters

GROUPS = [
    SoftBounceGroup(
        "news.shop.test",
        "gmail.com",
        "452 4.2.2 <EMAIL>: Mailbox full",
        40,
        "452 4.2.2 <a@gmail.com>: Mailbox full",
        452,
        "4.2.2",
        "mailboxfull",
    ),
    SoftBounceGroup(
        None, "web.de", "452 4.2.2 Postfach voll - bitte später", 7, LONG, 452, "4.2.2", "mailboxfull"
    ),
    SoftBounceGroup(
        "mail.bank.test",
        "例え.jp",
        '451 "quoted", comma, and\nnewline',
        3,
        '451 "quoted", comma, and\nnewline',
        451,
        None,
        "systemerror",
    ),
    SoftBounceGroup("mail.bank.test", "x.test", "=HYPERLINK(1)", 1, None, None, None, None),
]


def _fixed_describer(text: str, code: int | None, reason: str) -> tuple[str, str]:
    return f"label:{reason}", f"about {code}: {text[:10]}"


def _rows(group_by: ReportGrouping = ReportGrouping.FROM_DOMAIN) -> list[tuple[str | int, ...]]:
    return [soft_bounce_row(g, _fixed_describer).values() for g in GROUPS]


def test_shaping_fills_unknowns_and_descriptions() -> None:
    rows = [soft_bounce_row(g, _fixed_describer) for g in GROUPS]
    assert rows[1].group == UNKNOWN
    assert rows[0].reason == "label:mailboxfull" and rows[0].description == "about 452: 452 4.2.2 "
    assert rows[0].example == GROUPS[0].example and rows[0].bounce_text == GROUPS[0].text_key
    # an example that is gone shows the normalised text; a missing reason is "undefined"
    assert rows[3].example == "=HYPERLINK(1)" and rows[3].reason_code == "undefined"
    assert [soft_bounce_values(g, _fixed_describer) for g in GROUPS] == [r.values() for r in rows]
    layout = soft_bounce_layout(ReportGrouping.IP)
    assert layout.columns[0].title == "Sending IP" and len(rows[0].values()) == len(layout.columns)


def test_real_descriptions_for_documented_texts() -> None:
    describe = cached_describer()
    label, description = describe(
        "450 <EMAIL>: Sender address rejected: Greylisted for <N> seconds! Please, see <URL>",
        450,
        "greylisted",
    )
    assert label and description
    assert "grey" in (label + description).lower()


def test_describer_cache_calls_once_per_text() -> None:
    calls: list[str] = []

    def counting(text: str, code: int | None, reason: str) -> tuple[str, str]:
        calls.append(text)
        return "l", "d"

    describe = cached_describer(counting, limit=2)
    for text in ["a", "a", "b", "a", "c", "c"]:
        describe(text, 450, "greylisted")
    assert calls == ["a", "b", "c"]  # bounded: full cache starts over, still correct


async def _aiter(
    rows: list[tuple[str | int, ...]], size: int = 2
) -> AsyncIterator[list[tuple[str | int, ...]]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


async def test_csv_round_trip_utf8_bom_crlf(tmp_path: Path) -> None:
    layout = soft_bounce_layout(ReportGrouping.FROM_DOMAIN)
    path = tmp_path / "r.csv"
    with path.open("wb") as fh:
        total, count = await write_report(_aiter(_rows()), CsvWriter(fh, layout), layout)
    assert (total, count) == (51, 4)
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.endswith(b"\r\n") and b"\r\n" in data.split(b'"')[0]  # CRLF records
    back = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert back[0] == [c.title for c in layout.columns]
    expected = [[str(csv_safe(v)) for v in row] for row in _rows()]
    assert back[1:-1] == expected
    assert back[2][3] == LONG  # full text kept
    assert back[3][2] == '451 "quoted", comma, and\nnewline'
    assert back[4][2] == "'=HYPERLINK(1)"  # never a formula in a spreadsheet
    assert back[-1][0] == "Total" and back[-1][-1] == "51"


async def test_xlsx_read_back(tmp_path: Path) -> None:
    layout = soft_bounce_layout(ReportGrouping.IP)
    path = tmp_path / "r.xlsx"
    total, count = await write_report(_aiter(_rows()), XlsxReportWriter(path, layout), layout)
    book = openpyxl.load_workbook(path)
    sheet = book.active
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[0] == [c.title for c in layout.columns]
    for got, want in zip(values[1:-1], _rows(), strict=True):
        assert got == list(want)
    assert values[2][3] == LONG
    assert values[4][2] == "=HYPERLINK(1)"  # a string cell, not a formula
    assert values[-1][0] == "Total" and values[-1][-1] == total == 51 and count == 4
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:H5"
    assert sheet.column_dimensions["C"].width > 30


async def test_json_document(tmp_path: Path) -> None:
    layout = soft_bounce_layout(ReportGrouping.FROM_DOMAIN)
    out = io.StringIO()
    await write_report(_aiter(_rows()), JsonWriter(out, layout, {"kind": "soft"}), layout)
    doc = json.loads(out.getvalue())
    assert doc["meta"] == {"kind": "soft"} and doc["total"] == 51 and doc["row_count"] == 4
    assert doc["rows"][1]["example"] == LONG and doc["rows"][2]["recipient_domain"] == "例え.jp"
    assert [r["amount"] for r in doc["rows"]] == [40, 7, 3, 1]


async def test_json_empty_report() -> None:
    layout = non_delivery_layout()
    out = io.StringIO()
    await write_report(_aiter([]), JsonWriter(out, layout, {}), layout)
    assert json.loads(out.getvalue())["rows"] == []


async def test_table_is_aligned_and_shortened() -> None:
    layout = soft_bounce_layout(ReportGrouping.FROM_DOMAIN)
    out = io.StringIO()
    rows = [r for r in _rows() if "\n" not in str(r[2])]
    await write_report(_aiter(rows), TableWriter(out, layout, sample=1), layout)
    lines = out.getvalue().splitlines()
    header, rule = lines[0], lines[1]
    assert header.startswith("From domain") and set(rule) <= {"-", " "}
    starts = [i for i, ch in enumerate(rule) if ch == "-" and (i == 0 or rule[i - 1] == " ")]
    assert "…" in out.getvalue()  # the long example is shortened in the table view
    for line in lines[2:4]:
        for s in starts[1:]:
            assert line[s - 2 : s] == "  "  # every column starts where the header's does
    assert lines[-2].startswith("Total") and lines[-2].rstrip().endswith("48")
    assert lines[-1] == "(3 rows)"


def test_non_delivery_rows() -> None:
    from datetime import UTC, datetime

    item = NonDelivery(
        1, 9, "a@b.test", datetime(2026, 3, 1, 8, 30, tzinfo=UTC), 4, "452 Mailbox full", "m-1"
    )
    values = non_delivery_values(item)
    assert values == ("2026-03-01 08:30:00", "a@b.test", "m-1", UNKNOWN, UNKNOWN, 4, "452 Mailbox full")
    assert len(values) == len(non_delivery_layout().columns)


async def test_json_text_that_looks_like_json_stays_intact() -> None:
    layout = soft_bounce_layout(ReportGrouping.FROM_DOMAIN)
    tricky = [("g", "d", 'x}, {"y": 1', "ex\n}, {", "r", "desc", "undefined", 2)] * 3
    out = io.StringIO()
    await write_report(_aiter(tricky), JsonWriter(out, layout, {}), layout)
    doc = json.loads(out.getvalue())
    assert [r["bounce_text"] for r in doc["rows"]] == ['x}, {"y": 1'] * 3
    assert doc["rows"][0]["example"] == "ex\n}, {" and doc["total"] == 6


def test_csv_rows_byte_for_byte_as_csv_module() -> None:
    """The fast row formatting writes exactly what csv.writer writes (after csv_safe)."""
    layout = soft_bounce_layout(ReportGrouping.FROM_DOMAIN)
    tricky = [
        "",
        " ",
        "a,b",
        'say "hi"',
        '"',
        "line\nbreak",
        "cr\rhere",
        "crlf\r\n",
        "=1+2",
        "+x",
        "-",
        "@a",
        "\tx",
        "\rx",
        "tab\tinside",
        "ü ñ 日本",
        "'quoted'",
        "a;b",
        "x" * 5000,
        '=",\n',
    ]
    rows: list[tuple[str | int, ...]] = []
    for i, text in enumerate(tricky):
        rows.append((text, "example.org", text, text[::-1], "Label", "desc, with comma", "greylisted", i))
        rows.append(("g", text, "t", "e", text, text, text, 0))
    fast = io.BytesIO()
    writer = CsvWriter(fast, layout)
    writer.write_rows(rows[:7])
    writer.write_rows([])
    writer.write_rows(rows[7:])
    writer.finish(123, len(rows))
    expected = io.StringIO(newline="")
    expected.write("\ufeff")
    plain = csv.writer(expected, lineterminator="\r\n")
    plain.writerow([c.title for c in layout.columns])
    plain.writerows([[csv_safe(v) for v in row] for row in rows])
    plain.writerow(["Total", "", "", "", "", "", "", 123])
    assert fast.getvalue() == expected.getvalue().encode("utf-8")
