"""`bounced queue list/show` and `bounced undeliveries list` against a real database."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bounced.cli import main
from bounced.config.storage import StorageConfig
from bounced.model import DeliveryState
from bounced.store import open_store
from tests.store_helpers import finish_attempt

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def populate(db: Path) -> None:
    async def run() -> None:
        store = await open_store(StorageConfig(path=str(db)))
        try:
            raw = b"From: a@shop.example\r\nSubject: x\r\n\r\nbody\r\n"
            _, ids = await store.record_outbound(
                raw,
                "p@x",
                [("one@dest.example", None), ("two@dest.example", "127.0.0.2")],
                T0,
                mailing_id="m-1",
            )
            claimed = await store.claim_attempts(T0, T0 + timedelta(minutes=5), 10)
            assert len(claimed) == 2
            for item in claimed:
                await finish_attempt(store, item.job_id, item.delivery_id, DeliveryState.SOFT_BOUNCED, T0)
            await store.schedule_resend(ids[0], 2, T0 + timedelta(minutes=30), T0, "452 4.2.2 Mailbox full")
            await store.give_up_delivery(ids[1], T0 + timedelta(days=1), "421 4.4.2 Timeout")
        finally:
            await store.close()

    asyncio.run(run())


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    db = tmp_path / "b.sqlite3"
    populate(db)
    path = tmp_path / "bounced.toml"
    path.write_text(f'[storage]\npath = "{db}"\n')
    return path


def test_queue_list_and_show(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["queue", "list", "--config", str(config_file)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].split("\t") == [
        "ID",
        "RECIPIENT",
        "NEXT ATTEMPT",
        "ATTEMPTS SO FAR",
        "STATE",
        "LAST BOUNCE",
    ]
    job_id, rcpt, due, attempts, state, text = lines[1].split("\t")
    assert (rcpt, due, attempts, state, text) == (
        "one@dest.example",
        "2026-03-01T10:30:00Z",
        "1",
        "pending",
        "452 4.2.2 Mailbox full",
    )
    assert main(["queue", "list", "--json", "--config", str(config_file)]) == 0
    [entry] = json.loads(capsys.readouterr().out)["jobs"]
    assert entry["recipient"] == "one@dest.example" and entry["attempts_so_far"] == 1
    assert main(["queue", "show", job_id, "--config", str(config_file)]) == 0
    out = capsys.readouterr().out
    assert "one@dest.example" in out and "scheduled, 1 attempt(s) so far" in out and "attempt 1:" in out
    assert main(["queue", "show", "999", "--config", str(config_file)]) == 1


def test_undeliveries_filters(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["undeliveries", "list", "--json", "--config", str(config_file)]) == 0
    [nd] = json.loads(capsys.readouterr().out)["non_deliveries"]
    assert (nd["recipient"], nd["attempts"], nd["mailing_id"], nd["sending_ip"]) == (
        "two@dest.example",
        1,
        "m-1",
        "127.0.0.2",
    )
    assert nd["last_bounce_text"] == "421 4.4.2 Timeout"
    for argv, count in [
        (["--from", "2026-03-02"], 1),
        (["--from", "2026-03-03"], 0),
        (["--to", "2026-03-02"], 0),  # [--from, --to): a bare --to date is excluded, as in report
        (["--to", "2026-03-02T10:00:01"], 1),
        (["--to", "2026-03-03"], 1),
        (["--mailing", "m-1"], 1),
        (["--mailing", "other"], 0),
    ]:
        assert main(["undeliveries", "list", "--json", "--config", str(config_file), *argv]) == 0
        assert len(json.loads(capsys.readouterr().out)["non_deliveries"]) == count, argv
    with pytest.raises(SystemExit) as bad_date:
        main(["undeliveries", "list", "--to", "yesterday", "--config", str(config_file)])
    assert bad_date.value.code == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["undeliveries", "list", "--from", "2026-12-05", "--to", "2026-12-01"],
        ["undeliveries", "list", "--from", "2026-12-05", "--to", "2026-12-05"],
        ["report", "--from", "2026-12-05", "--to", "2026-12-01"],
    ],
)
def test_a_reversed_period_is_refused_by_every_command(
    config_file: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    assert main([*argv, "--config", str(config_file)]) == 2
    err = capsys.readouterr().err
    assert "--to" in err and "(2026-12-0" in err and "must be after" in err, err


def test_every_period_option_says_what_to_means() -> None:
    from bounced.cli import build_parser
    from bounced.cli.period import TO_HELP, parse_when

    found = []
    for path, parser in _all_parsers(build_parser()):
        if path == ["storage", "copy"]:  # --from/--to name databases there, not a period
            continue
        for action in parser._actions:
            if "--to" in action.option_strings:
                found.append(path)
                assert action.type is parse_when and TO_HELP in (action.help or ""), path
    assert ["report"] in found and ["undeliveries", "list"] in found


def _all_parsers(
    parser: argparse.ArgumentParser, path: list[str] | None = None
) -> Iterator[tuple[list[str], argparse.ArgumentParser]]:
    path = path or []
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _all_parsers(child, [*path, name])


def test_queue_list_by_recipient_and_by_submission(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["queue", "list", "--json", "--all", "--config", str(config_file)]
    assert main(base) == 0
    assert {j["recipient"] for j in json.loads(capsys.readouterr().out)["jobs"]} == {"one@dest.example"}
    for extra, expected in [
        (["--recipient", "<one@Dest.Example>"], {"one@dest.example"}),
        (["--recipient", "two@dest.example"], set()),
        (["--submission", "1"], {"one@dest.example"}),
        (["--submission", "2"], set()),
        (["--recipient", "one@dest.example", "--submission", "1"], {"one@dest.example"}),
    ]:
        assert main([*base, *extra]) == 0, extra
        assert {j["recipient"] for j in json.loads(capsys.readouterr().out)["jobs"]} == expected, extra
    assert main(["queue", "list", "--recipient", "one@dest", "--config", str(config_file)]) == 2
    assert "not a domain name" in capsys.readouterr().err
    for bad in (["--submission", "0"], ["--limit", "-1"], ["--limit", "0"]):
        with pytest.raises(SystemExit) as refused:
            main(["queue", "list", *bad, "--config", str(config_file)])
        assert refused.value.code == 2, bad
        assert "expected an integer >= 1" in capsys.readouterr().err


def test_missing_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bounced.toml"
    path.write_text(f'[storage]\npath = "{tmp_path / "none.sqlite3"}"\n')
    assert main(["queue", "list", "--config", str(path)]) == 1
    assert "no database" in capsys.readouterr().err
