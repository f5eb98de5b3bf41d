"""The report gives delay notices their own description, and its text table fits the
terminal (`--wide` for all of it). Bounces go over SMTP into a running daemon; the report is
the real command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.harness import make_config, running_daemon, send_mail
from tests.report.test_report_exactness import dsn
from tests.terminal import run_on_terminal

RCPT = ["b@bounces.example.com"]
DELAY_TEXT = (
    "This is an automatically generated Delivery Status Notification. THIS IS A WARNING MESSAGE ONLY. "
    "YOU DO NOT NEED TO RESEND YOUR MESSAGE. Delivery to the following recipients has been delayed."
)
EXPIRED_TEXT = "Delivery time expired after 5 days in the queue"


async def populated(tmp_path: Path) -> Path:
    config = make_config(tmp_path, smtp={"domains": ["bounces.example.com"]})
    async with running_daemon(config) as d:
        for i, (action, status, text) in enumerate(
            [("delayed", "4.4.7", DELAY_TEXT), ("failed", "4.4.7", EXPIRED_TEXT)]
        ):
            rcpt = f"user{i}@mail.example"
            await send_mail(
                d.smtp_port,
                "",
                RCPT,
                dsn(f"b{i}", [(rcpt, action, status, text)], "shop.example.com", "m", f"<o{i}@x>"),
            )
        await d.drained()
    toml = tmp_path / "bounced.toml"
    toml.write_text(f'[storage]\npath = "{config.storage.path}"\n', encoding="utf-8")
    return toml


def period() -> list[str]:
    today = datetime.now(UTC).date()
    return [
        "--from",
        (today - timedelta(days=1)).isoformat(),
        "--to",
        (today + timedelta(days=2)).isoformat(),
    ]


def report(toml: Path, *args: str, **streams: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "BOUNCED_CONFIG"}
    streams = streams or {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "bounced", "report", "--config", str(toml), *period(), *args],
        text=True, timeout=60, check=False, env=env, **streams,
    )  # fmt: skip


async def test_a_delay_notice_is_not_described_as_expired(tmp_path: Path) -> None:
    toml = await populated(tmp_path)
    result = report(toml, "--format", "json")
    assert result.returncode == 0, result.stderr
    rows = {
        row["recipient_domain"] + row["bounce_text"][:8]: row for row in json.loads(result.stdout)["rows"]
    }
    [delay] = [r for r in rows.values() if r["bounce_text"].startswith("This is")]
    [expired] = [r for r in rows.values() if r["bounce_text"].startswith("Delivery time")]
    assert delay["reason"] == "Delivery delayed" and "still retrying" in delay["description"]
    assert "retry period" not in delay["description"]
    assert expired["reason"] == "Delivery expired" and "retry period" in expired["description"]


def on_terminal(toml: Path, columns: int, *args: str) -> str:
    """The report's stdout as a terminal `columns` wide shows it."""
    env = {k: v for k, v in os.environ.items() if k != "BOUNCED_CONFIG"}
    argv = [sys.executable, "-m", "bounced", "report", "--config", str(toml), *period(), *args]
    result, shown = run_on_terminal(argv, "stdout", columns, env)
    assert result.returncode == 0, result.stderr
    return shown


async def test_the_table_fits_the_terminal_and_wide_shows_all(tmp_path: Path) -> None:
    toml = await populated(tmp_path)
    for columns in (100, 140):
        lines = on_terminal(toml, columns).splitlines()
        assert len(lines) >= 6  # header, rule, 2 rows, rule, total, count
        assert max(len(line) for line in lines) <= columns, lines
        assert any("…" in line for line in lines)  # the texts were shortened to fit
    wide = on_terminal(toml, 100, "--wide")
    assert DELAY_TEXT in wide and max(len(line) for line in wide.splitlines()) > 100
    piped = report(toml)  # not a terminal: the usual column widths, as before
    assert piped.returncode == 0 and max(len(line) for line in piped.stdout.splitlines()) > 140
