"""`bounced report` options: periods, errors naming the option, formats, non-deliveries."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from bounced.cli import main as cli_main
from bounced.cli.period import parse_when
from bounced.config.storage import StorageConfig
from bounced.model import Action, BounceEvent, BounceKind, Reason
from bounced.store import open_store
from tests.events import keyed
from tests.store_helpers import record_events

AT = datetime(2026, 3, 10, 23, 30, tzinfo=UTC)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "bounced.toml"
    path.write_text(f'[storage]\npath = "{tmp_path / "bounced.sqlite3"}"\n', encoding="utf-8")
    return path


async def _fill(db: Path) -> None:
    store = await open_store(StorageConfig(path=str(db), busy_timeout=5.0))
    try:
        events = [
            keyed(
                BounceEvent(
                    recipient=f"u{i}@web.example",
                    kind=BounceKind.SOFT,
                    reason=Reason.MAILBOXFULL,
                    received_at=AT + timedelta(minutes=20 * i),  # 23:30, 23:50, 00:10 (next day)
                    action=Action.DELAYED,
                    status="4.2.2",
                    reply_code=452,
                    diagnostic=f"452 4.2.2 <u{i}@web.example>: Mailbox full",
                    from_domain="shop.example.com",
                    sending_ip="198.51.100.4",
                    mailing_id="m-1",
                    message_id=f"<m{i}@shop.example.com>",
                )
            )
            for i in range(3)
        ]
        await record_events(store, None, events, AT)
        _, deliveries = await store.record_outbound(
            b"From: news@shop.example.com\r\n\r\nHi\r\n",
            "b@bounces.example.com",
            [("x@web.example", "198.51.100.4"), ("y@gmail.example", None)],
            AT,
            mailing_id="m-1",
            from_domain="shop.example.com",
        )
        await store.give_up_delivery(deliveries[0], AT, "452 4.2.2 Mailbox full")
        await store.give_up_delivery(
            deliveries[1], AT + timedelta(days=30), "421 Service Temporarily Unavailable"
        )
    finally:
        await store.close()


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli_main(["report", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_parse_when_forms() -> None:
    assert parse_when("2026-03-10") == datetime(2026, 3, 10, tzinfo=UTC)
    assert parse_when("2026-03-10T08:15") == datetime(2026, 3, 10, 8, 15, tzinfo=UTC)
    assert parse_when("2026-03-10 08:15:00+02:00") == datetime(2026, 3, 10, 6, 15, tzinfo=UTC)
    assert parse_when("2026-03-10T08:15:00Z").utcoffset() == timedelta(0)
    assert parse_when("2026-03-10T08:15+05:30").tzinfo == timezone(timedelta(hours=5, minutes=30))


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--from", "2026-13-01", "--to", "2026-04-01"], "argument --from"),
        (["--from", "2026-03-01", "--to", "yesterday"], "argument --to"),
        (["--from", "2026-03-02", "--to", "2026-03-01"], "--to"),
        (["--from", "2026-03-01", "--to", "2026-04-01", "--format", "xlsx"], "--output"),
        (["--from", "2026-03-01", "--group-by", "country"], "argument --group-by"),
    ],
)
def test_bad_usage_exits_2_naming_the_option(
    capsys: pytest.CaptureFixture[str], config_file: Path, argv: list[str], needle: str
) -> None:
    with pytest.raises(SystemExit) as raised:
        code = cli_main(["report", "--config", str(config_file), *argv])
        raise SystemExit(code)
    assert raised.value.code == 2
    assert needle in capsys.readouterr().err


def test_missing_database_exits_1(capsys: pytest.CaptureFixture[str], config_file: Path) -> None:
    code, _, err = _run(capsys, "--config", str(config_file), "--from", "2026-03-01", "--to", "2026-04-01")
    assert code == 1 and "no database" in err


def test_periods_with_offsets_and_formats(
    capsys: pytest.CaptureFixture[str], config_file: Path, tmp_path: Path
) -> None:
    asyncio.run(_fill(tmp_path / "bounced.sqlite3"))
    base = ["--config", str(config_file)]
    # UTC day of the 10th: the two events before midnight
    code, out, _ = _run(capsys, *base, "--from", "2026-03-10", "--to", "2026-03-11", "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["total"] == 2 and doc["rows"][0]["group"] == "shop.example.com"
    assert doc["rows"][0]["bounce_text"] == "452 4.2.2 <EMAIL>: Mailbox full"
    # the same calendar day in UTC-01:00 ends at 01:00 UTC: all three
    code, out, _ = _run(
        capsys,
        *base,
        "--from",
        "2026-03-10T00:00-01:00",
        "--to",
        "2026-03-11T00:00-01:00",
        "--format",
        "json",
    )
    assert json.loads(out)["total"] == 3
    # by IP, as a table on stdout
    code, out, _ = _run(capsys, *base, "--from", "2026-03-01", "--to", "2026-04-01", "--group-by", "ip")
    lines = out.splitlines()
    assert lines[0].startswith("Sending IP") and lines[2].startswith("198.51.100.4  web.example")
    assert lines[-2].startswith("Total") and lines[-2].endswith("3") and lines[-1] == "(1 rows)"
    # another mailing: empty report, still a valid document with a zero total
    code, out, _ = _run(
        capsys, *base, "--from", "2026-03-01", "--to", "2026-04-01", "--mailing", "m-2", "--format", "json"
    )
    assert json.loads(out)["rows"] == [] and json.loads(out)["total"] == 0


def test_undelivered_kind(capsys: pytest.CaptureFixture[str], config_file: Path, tmp_path: Path) -> None:
    asyncio.run(_fill(tmp_path / "bounced.sqlite3"))
    out_file = tmp_path / "nd.csv"
    code, _, _ = _run(
        capsys,
        "--config",
        str(config_file),
        "--from",
        "2026-03-01",
        "--to",
        "2026-04-01",
        "--kind",
        "undelivered",
        "--format",
        "csv",
        "--output",
        str(out_file),
    )
    text = out_file.read_bytes().decode("utf-8-sig")
    assert code == 0
    assert text.splitlines()[0].startswith("Given up at (UTC),Recipient,Mailing")
    lines = text.splitlines()
    assert (
        lines[1]
        == "2026-03-10 23:30:00,x@web.example,m-1,shop.example.com,198.51.100.4,0,452 4.2.2 Mailbox full"
    )
    assert lines[-1] == "Total,1,,,,,"  # the second was given up in April
    assert not (tmp_path / "nd.csv.partial").exists()
