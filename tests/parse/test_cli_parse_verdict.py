"""`bounced parse` gives the daemon's verdict on what is not mail, exits 1 when nothing in
the input was mail, and shows its progress on a terminal only."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bounced.apply.analyse import AnalysisOutcome, analyse
from bounced.config import ClassifyConfig
from tests.terminal import run_on_terminal

FIXTURES = Path(__file__).resolve().parent / "fixtures"
BOUNCED = Path(sys.executable).with_name("bounced")


def run(*args: str, **streams: int) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "BOUNCED_CONFIG"}
    streams = streams or {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    return subprocess.run(
        [str(BOUNCED), "parse", *args], text=True, timeout=60, env=env, check=False, **streams
    )


def not_mail(tmp_path: Path) -> dict[str, Path]:
    files = {
        "binary": Path(shutil.which("ls") or "/bin/ls"),
        "random": tmp_path / "random.bin",
        "empty": tmp_path / "empty.eml",
        "empty mbox": tmp_path / "empty.mbox",
    }
    files["random"].write_bytes(bytes(range(256)) * 7)
    files["empty"].write_bytes(b"")
    files["empty mbox"].write_bytes(b"From MAILER-DAEMON Thu Nov 26 07:00:00 2026\n")
    return files


def test_what_is_not_mail_is_unparseable_as_in_the_daemon_and_exits_1(tmp_path: Path) -> None:
    for name, path in not_mail(tmp_path).items():
        proc = run("--json", str(path))
        assert proc.returncode == 1, (name, proc.stderr)
        rows = [json.loads(line) for line in proc.stdout.splitlines()]
        assert [r["kind"] for r in rows] == ["unparseable"], name
        assert "no mail in the input" in proc.stderr, name
        if name != "empty mbox":  # the daemon never sees the mbox separator line
            daemon = analyse(path.read_bytes(), ClassifyConfig())
            assert daemon.outcome is AnalysisOutcome.UNPARSEABLE, name
            assert rows[0]["diagnostic"] == daemon.error


def test_an_empty_directory_is_no_mail(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    proc = run(str(tmp_path / "empty"))
    assert proc.returncode == 1
    assert proc.stdout == "" and "no mail in the input: no message" in proc.stderr


def test_mail_beside_junk_is_exit_0(tmp_path: Path) -> None:
    junk = not_mail(tmp_path)
    proc = run("--json", str(FIXTURES / "nonbounce.eml"), str(junk["random"]))
    assert proc.returncode == 0, proc.stderr
    kinds = [json.loads(line)["kind"] for line in proc.stdout.splitlines()]
    assert kinds == ["none", "unparseable"]


def make_maildir(tmp_path: Path, count: int) -> Path:
    folder = tmp_path / "many"
    folder.mkdir()
    raw = (FIXTURES / "rfc3464.eml").read_bytes()
    for i in range(count):
        (folder / f"{i:04d}.eml").write_bytes(raw)
    return folder


def test_progress_with_count_and_rate_on_a_terminal(tmp_path: Path) -> None:
    folder = make_maildir(tmp_path, 40)
    env = {k: v for k, v in os.environ.items() if k != "BOUNCED_CONFIG"}
    result, shown = run_on_terminal([str(BOUNCED), "parse", "--json", str(folder)], "stderr", 100, env)
    assert result.returncode == 0
    assert len(result.stdout.splitlines()) == 80  # two recipients a message, on stdout alone
    assert "40 msg" in shown and "msg/s" in shown, shown


def test_no_progress_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    proc = run("--json", str(make_maildir(tmp_path, 40)))
    assert proc.returncode == 0
    assert proc.stderr == ""


@pytest.mark.parametrize("fmt", [[], ["--json"]])
def test_piped_into_head_ends_quietly(tmp_path: Path, fmt: list[str]) -> None:
    folder = make_maildir(tmp_path, 300)
    env = {k: v for k, v in os.environ.items() if k != "BOUNCED_CONFIG"}
    shell = f"set -o pipefail; {BOUNCED} parse {' '.join(fmt)} {folder} | head -2"
    proc = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=60, env=env)
    assert len(proc.stdout.splitlines()) == 2
    assert proc.stderr == "" and proc.returncode == 0, proc.stderr
