"""The command line on a PostgreSQL host: the database is the server, so a host that has
never run a node (no local spool file yet) can still run reports and admin commands."""

from __future__ import annotations

from pathlib import Path

from tests.policy.helpers import run_cli


def test_report_on_postgresql_runs_without_a_local_spool_file(tmp_path: Path, pg_dsn: str) -> None:
    spool = tmp_path / "spool.sqlite3"
    config = tmp_path / "bounced.toml"
    config.write_text(
        f'[storage]\nbackend = "postgresql"\ndsn = "{pg_dsn}"\npath = "{spool}"\n', encoding="utf-8"
    )
    done = run_cli(config, "report", "--from", "2026-01-01", "--to", "2026-02-01", "--format", "csv")
    assert done.returncode == 0, done.stderr
    assert "no database" not in done.stderr
    lines = done.stdout.splitlines()
    assert lines and lines[0].lstrip("\ufeff").startswith("From domain,Recipient domain"), done.stdout[:200]
    assert lines[1:] == ["Total,,,,,,,0"]  # an empty database: nothing counted
