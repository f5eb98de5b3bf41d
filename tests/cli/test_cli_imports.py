"""What a command loads: the report and admin commands run without the classifier, and without
the store backend or export library they do not use. At 10 M events the month report's CSV took
4.5 s end to end when every command imported the classifier (docs/nodes.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bounced.cli import main

HEAVY = ("bounced.classify.reasons", "bounced.parse.scan", "asyncpg", "xlsxwriter")


def _loaded_by(config: Path, *argv: str) -> set[str]:
    """Runs `bounced ARGV` for real in a fresh interpreter; the heavy modules it loaded."""
    code = (
        "import sys\n"
        "from bounced.cli import main\n"
        f"code = main({['--version'] if not argv else [*argv, '--config', str(config)]!r})\n"
        f"print('LOADED=' + ','.join(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stderr.splitlines() if x.startswith("LOADED="))
    return {m for m in line.removeprefix("LOADED=").split(",") if m}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "bounced.toml"
    path.write_text(f'[storage]\npath = "{tmp_path / "bounced.sqlite3"}"\n', encoding="utf-8")
    assert main(["suppression", "add", "a@example.com", "--reason", "test", "--config", str(path)]) == 0
    return path


@pytest.mark.parametrize(
    "argv",
    [
        ("report", "--from", "2026-01-01", "--to", "2026-02-01", "--format", "csv", "--output", "-"),
        ("profile", "show", "a@example.com"),
        ("hooks", "list"),
    ],
)
def test_commands_that_do_not_parse_load_no_parser_and_no_unused_backend(
    config: Path, argv: tuple[str, ...]
) -> None:
    assert _loaded_by(config, *argv) == set()


def test_the_guard_can_fail(config: Path, tmp_path: Path) -> None:
    # An XLSX report does load XlsxWriter: the probe sees what a command imports.
    xlsx = tmp_path / "r.xlsx"
    argv = ("report", "--from", "2026-01-01", "--to", "2026-02-01", "--format", "xlsx", "--output", str(xlsx))
    assert _loaded_by(config, *argv) == {"xlsxwriter"}
    assert xlsx.stat().st_size > 0
