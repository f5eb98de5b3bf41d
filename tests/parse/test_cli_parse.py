"""`bounced parse` run as a subprocess, as an operator would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
BOUNCED = Path(sys.executable).with_name("bounced")
KEYS = {
    "file", "recipient", "action", "status", "reply_code", "diagnostic", "kind", "reason", "retry_after",
    "remote_mta", "message_id", "mailing_id", "return_path",
}  # fmt: skip


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "BOUNCED_CONFIG"}
    return subprocess.run([str(BOUNCED), "parse", *args], capture_output=True, text=True, timeout=60, env=env)


def json_lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_json_one_line_per_recipient() -> None:
    proc = run("--json", str(FIXTURES / "rfc3464.eml"))
    assert proc.returncode == 0, proc.stderr
    rows = json_lines(proc.stdout)
    assert [r["recipient"] for r in rows] == ["alice@example.net", "bob@example.net"]
    alice = rows[0]
    assert set(alice) == KEYS
    assert alice["file"] == str(FIXTURES / "rfc3464.eml")
    assert (alice["status"], alice["reply_code"], alice["action"]) == ("5.1.1", 550, "failed")
    assert (alice["kind"], alice["reason"]) == ("hard", "userunknown")
    assert alice["mailing_id"] == "spring-2026"
    assert alice["message_id"] == "<m-1001.alice@sender.example>"
    assert alice["return_path"] == "b-3f9a2c.alice=example.net@bounces.sender.example"
    assert alice["remote_mta"] == "mail.example.net"


def test_non_bounce_gives_one_none_line() -> None:
    proc = run("--json", str(FIXTURES / "nonbounce.eml"))
    assert proc.returncode == 0
    [row] = json_lines(proc.stdout)
    assert row["kind"] == "none" and row["recipient"] is None


def test_directory_is_recursive_and_sorted(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "2.eml").write_bytes((FIXTURES / "qmail.eml").read_bytes())
    (tmp_path / "a.eml").write_bytes((FIXTURES / "exim.eml").read_bytes())
    proc = run("--json", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    rows = json_lines(proc.stdout)
    assert [(Path(r["file"]).name, r["recipient"]) for r in rows] == [  # type: ignore[arg-type]
        ("a.eml", "dave@example.com"),
        ("2.eml", "erin@example.info"),
    ]


def test_mbox_messages_are_numbered(tmp_path: Path) -> None:
    box = tmp_path / "bounces.mbox"
    parts = []
    for name in ("exim.eml", "qmail.eml"):
        body = (FIXTURES / name).read_bytes().replace(b"\nFrom ", b"\n>From ")
        parts.append(b"From MAILER-DAEMON Thu Mar  5 11:00:00 2026\n" + body + b"\n")
    box.write_bytes(b"".join(parts))
    rows = json_lines(run("--json", str(box)).stdout)
    assert [(r["file"], r["recipient"]) for r in rows] == [
        (f"{box}:1", "dave@example.com"),
        (f"{box}:2", "erin@example.info"),
    ]


def test_unreadable_input_is_reported_and_the_rest_processed(tmp_path: Path) -> None:
    locked = tmp_path / "locked.eml"
    locked.write_bytes(b"x")
    locked.chmod(0)
    missing = tmp_path / "missing.eml"
    proc = run("--json", str(missing), str(locked), str(FIXTURES / "qmail.eml"))
    assert proc.returncode == 1
    assert str(missing) in proc.stderr
    if os.geteuid() != 0:  # root reads mode-0 files
        assert str(locked) in proc.stderr
    assert [r["recipient"] for r in json_lines(proc.stdout)][-1] == "erin@example.info"


def test_table_output_is_aligned() -> None:
    proc = run(str(FIXTURES / "rfc3464.eml"), str(FIXTURES / "postfix_delayed.eml"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:4] == ["FILE", "RECIPIENT", "KIND", "REASON"]
    assert len(lines) == 4
    column = lines[0].index("KIND")
    assert [line[column:].split()[0] for line in lines[1:]] == ["hard", "soft", "soft"]


def test_config_file_overrides_reach_the_classifier(tmp_path: Path) -> None:
    config = tmp_path / "bounced.toml"
    config.write_text('[[classify.overrides]]\nstatus = "5.1.1"\nkind = "soft"\nname = "lenient"\n')
    rows = json_lines(run("--json", "--config", str(config), str(FIXTURES / "exim.eml")).stdout)
    assert rows[0]["kind"] == "soft"
