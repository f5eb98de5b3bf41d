"""The admin CLI, run as a real subprocess against a real database file."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bounced.config.storage import StorageConfig
from bounced.model import BounceEvent, BounceKind, Reason
from bounced.store import open_store
from tests.events import keyed
from tests.store_helpers import record_events

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def config_file(tmp_path: Path, db_path: Path) -> Path:
    path = tmp_path / "bounced.toml"
    path.write_text(f'[storage]\npath = "{db_path}"\n', encoding="utf-8")
    return path


def bounced(config: Path, *args: str, sudo_user: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SUDO_USER", "BOUNCED_CONFIG")}
    if sudo_user:
        env["SUDO_USER"] = sudo_user
    return subprocess.run(
        [sys.executable, "-m", "bounced", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
        check=False,
    )


def test_add_show_remove_with_audit_rows(config_file: Path, db_path: Path) -> None:
    added = bounced(config_file, "suppression", "add", "Zoe@Example.COM", "--reason", "asked to stop")
    assert added.returncode == 0, added.stderr
    shown = bounced(config_file, "suppression", "show", "Zoe@example.com", "--json")
    assert shown.returncode == 0
    data = json.loads(shown.stdout)
    assert data["suppressed"] and data["entry"]["reason"] == "asked to stop"
    assert data["entry"]["created_by"].startswith("admin:")

    removed = bounced(
        config_file, "suppression", "remove", "Zoe@EXAMPLE.com", "--reason", "re-opted in", sudo_user="carla"
    )
    assert removed.returncode == 0, removed.stderr
    assert bounced(config_file, "suppression", "show", "Zoe@example.com").returncode == 1

    with sqlite3.connect(db_path) as conn:
        rows = conn.execute("SELECT action, address, actor, reason, at FROM audit_log ORDER BY id").fetchall()
    assert [r[:2] for r in rows] == [
        ("suppression.add", "zoe@example.com"),  # local parts case-insensitive by default
        ("suppression.remove", "zoe@example.com"),
    ]
    assert rows[0][3] == "asked to stop" and rows[1][3] == "re-opted in"
    assert "sudo from carla" in rows[1][2]
    assert rows[0][4] > 0

    audit = bounced(config_file, "suppression", "audit", "zoe@example.com".replace("zoe", "Zoe"), "--json")
    assert audit.returncode == 0
    assert [a["action"] for a in json.loads(audit.stdout)] == ["suppression.add", "suppression.remove"]


def test_unknown_addresses_exit_1_with_a_message(config_file: Path) -> None:
    assert bounced(config_file, "suppression", "add", "a@example.com", "--reason", "x").returncode == 0
    missing = bounced(config_file, "suppression", "remove", "nobody@example.com", "--reason", "x")
    assert missing.returncode == 1 and "not on the suppression list" in missing.stderr
    unknown = bounced(config_file, "profile", "show", "nobody@example.com")
    assert unknown.returncode == 1 and "no profile" in unknown.stderr
    show = bounced(config_file, "suppression", "show", "nobody@example.com")
    assert show.returncode == 1 and "not suppressed" in show.stdout


def test_bad_usage_exits_2(config_file: Path) -> None:
    bad = bounced(config_file, "suppression", "add", "not-an-address", "--reason", "x")
    assert bad.returncode == 2 and "not an email address" in bad.stderr
    empty = bounced(config_file, "suppression", "add", "a@example.com", "--reason", "  ")
    assert empty.returncode == 2
    no_reason = bounced(config_file, "suppression", "remove", "a@example.com")
    assert no_reason.returncode == 2 and "--reason" in no_reason.stderr


def test_read_commands_do_not_create_a_database(config_file: Path, db_path: Path) -> None:
    result = bounced(config_file, "suppression", "list")
    assert result.returncode == 1 and "no database" in result.stderr
    assert not db_path.exists()


async def test_profile_show_after_hard_bounce_and_list(config_file: Path, db_path: Path) -> None:
    store = await open_store(StorageConfig(path=str(db_path)))
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    try:
        event = keyed(
            BounceEvent(
                recipient="yan@example.org",
                kind=BounceKind.HARD,
                reason=Reason.USERUNKNOWN,
                received_at=now,
                status="5.1.1",
                diagnostic="550 5.1.1 user unknown",
                message_id="<q@s>",
                suppress=True,
                signed=True,
            )
        )
        await record_events(store, None, [event], now)
    finally:
        await store.close()

    text = bounced(config_file, "profile", "show", "yan@EXAMPLE.org")
    assert text.returncode == 0, text.stderr
    assert "status: Hard bounced" in text.stdout and "userunknown" in text.stdout
    data = json.loads(bounced(config_file, "profile", "show", "yan@example.org", "--json").stdout)
    assert data["status_label"] == "Hard bounced" and data["hard_bounce_count"] == 1
    assert data["suppression"]["created_by"] == "bounce" and data["events"][0]["status"] == "5.1.1"

    listed = json.loads(bounced(config_file, "suppression", "list", "--json").stdout)
    assert [e["address"] for e in listed["entries"]] == ["yan@example.org"]
    assert listed["total"] == 1 and listed["next_cursor"] is None and listed["next_offset"] is None

    assert (
        bounced(config_file, "suppression", "remove", "yan@example.org", "--reason", "fixed").returncode == 0
    )
    data = json.loads(bounced(config_file, "profile", "show", "yan@example.org", "--json").stdout)
    assert data["status_label"] == "Active" and data["suppression"] is None
