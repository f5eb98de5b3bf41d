"""Retention of raw bounce bytes: the daemon's periodic run, reload, `bounced intake`, config."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import subprocess
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bounced.clock import FakeClock, utcnow
from bounced.config import load_config, parse_config
from bounced.config.storage import StorageConfig
from bounced.daemon import Daemon
from bounced.errors import ConfigError
from bounced.model import IntakeState
from bounced.retention import prune_raw
from bounced.sdnotify import Notifier
from bounced.store import open_store
from bounced.store.base import Store
from bounced.store.sqlite import SQLiteStore
from tests.harness import make_config, running_daemon, send_mail

FIXTURES = Path(__file__).parent / "fixtures"
SOFT = (FIXTURES / "soft_mailboxfull.eml").read_bytes()
RCPT = ["b@bounces.example.com"]
DOMAINS = {"domains": ["bounces.example.com"]}
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    """Poll an async condition every 10 ms (the task runs on real time; no long sleeps)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.01)


def pruned_is(store: Store, expected: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return (await store.intake_stats()).pruned == expected

    return check


def retention_lines(caplog: pytest.LogCaptureFixture, level: int = logging.INFO) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "bounced.retention" and r.levelno == level]


def logged(
    caplog: pytest.LogCaptureFixture, count: int, level: int = logging.INFO
) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return len(retention_lines(caplog, level)) >= count

    return check


async def test_daemon_prunes_periodically_with_its_clock_and_logs_each_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bounced.retention")
    clock = FakeClock(START)
    config = make_config(tmp_path, smtp=DOMAINS, storage={"keep_raw_days": 30, "prune_interval": 0.05})
    async with running_daemon(config, clock) as d:
        await send_mail(d.smtp_port, "", RCPT, SOFT)
        await d.drained()
        old = await d.store.get_intake(1)
        assert old is not None and old.state is IntakeState.APPLIED and old.received_at == START

        # Runs keep coming on the interval, but nothing is 30 days old yet.
        await eventually(logged(caplog, 2))
        assert (await d.store.intake_stats()).pruned == 0
        assert all(getattr(r, "kv", {}).get("pruned") == 0 for r in retention_lines(caplog))

        clock.advance(31 * 86_400)
        await send_mail(d.smtp_port, "", RCPT, SOFT)  # arrives "now": must stay
        await d.drained()
        await eventually(pruned_is(d.store, 1))
        pruned = await d.store.get_intake(old.id)
        assert pruned is not None and pruned.raw == b"" and pruned.raw_pruned_at == clock.now()
        assert pruned.state is IntakeState.APPLIED and pruned.rcpt_tos == old.rcpt_tos
        young = await d.store.get_intake(old.id + 1)
        assert young is not None and young.raw_pruned_at is None and b"Subject:" in young.raw
        counts = [getattr(r, "kv", {}).get("pruned") for r in retention_lines(caplog)]
        assert 1 in counts and all(c in (0, 1) for c in counts)


async def test_a_failed_run_is_logged_and_the_next_one_prunes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bounced.retention")
    clock = FakeClock(START)
    storage = {"keep_raw_days": 1, "prune_interval": 0.05, "busy_timeout": 0.05}
    config = make_config(tmp_path, smtp=DOMAINS, storage=storage)
    async with running_daemon(config, clock) as d:
        await send_mail(d.smtp_port, "", RCPT, SOFT)
        await d.drained()
        clock.advance(2 * 86_400)
        # Another process holds the write lock: runs fail (locked past busy_timeout).
        blocker = sqlite3.connect(
            config.storage.path, isolation_level=None, timeout=60, check_same_thread=False
        )
        try:
            # In a thread: the daemon may be mid-transaction, and finishing it needs this loop.
            await asyncio.to_thread(blocker.execute, "BEGIN IMMEDIATE")
            await eventually(logged(caplog, 1, logging.ERROR))
            assert (await d.store.intake_stats()).pruned == 0
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        await eventually(pruned_is(d.store, 1))
        error = retention_lines(caplog, logging.ERROR)[0]
        assert "locked" in getattr(error, "kv", {})["error"]


async def test_reload_applies_new_retention_at_once(tmp_path: Path) -> None:
    path = tmp_path / "bounced.toml"
    db = tmp_path / "db.sqlite3"

    def write(keep: int) -> None:
        path.write_text(
            f'[smtp]\nlisten = "127.0.0.1:0"\ndomains = ["bounces.example.com"]\n'
            f'[storage]\npath = "{db}"\nkeep_raw_days = {keep}\nprune_interval = 3600.0\n'
        )

    write(0)  # keep forever
    clock = FakeClock(START)
    daemon = Daemon(load_config(path), clock, Notifier(""))
    await daemon.start()
    try:
        await send_mail(daemon.smtp_port, "", RCPT, SOFT)
        await daemon.processor.drained()
        clock.advance(10 * 86_400)
        write(7)
        assert await daemon.reload()
        assert daemon.config.storage.keep_raw_days == 7
        await eventually(pruned_is(daemon.store, 1), timeout=3.0)  # now, not in an hour
    finally:
        await daemon.stop()


async def test_prune_raw_loops_over_batches_while_spools_keep_committing(store: SQLiteStore) -> None:
    old = START - timedelta(days=40)
    for i in range(7):
        intake_id = await store.spool(f"Subject: {i}\r\n\r\n".encode(), "", RCPT, "127.0.0.1", old)
        await store.mark_intake(intake_id, IntakeState.APPLIED, None, START)
    spools = [store.spool(b"Subject: new\r\n\r\n", "", RCPT, "127.0.0.1", START) for _ in range(20)]
    pruned, *ids = await asyncio.gather(prune_raw(store, START - timedelta(days=30), START, batch=2), *spools)
    assert pruned == 7 and len(set(ids)) == 20
    stats = await store.intake_stats()
    assert stats.pruned == 7 and stats.counts[IntakeState.PENDING] == 20
    assert await prune_raw(store, START - timedelta(days=30), START, batch=2) == 0


# --- bounced intake prune|stats ------------------------------------------------------------


def bounced(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "BOUNCED_CONFIG"}
    return subprocess.run(
        [sys.executable, "-m", "bounced", "intake", *args, "--config", str(config)],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=60, check=False,
    )  # fmt: skip


async def _filled(db_path: Path) -> dict[str, int]:
    """Messages received relative to the real clock (the CLI uses it): 2 applied 40 days
    ago, 1 applied 10 days ago, 1 failed 40 days ago."""
    store: SQLiteStore = await open_store(StorageConfig(path=str(db_path)))
    now = utcnow()
    ids: dict[str, int] = {}
    try:
        for name, age, state in [
            ("old1", 40, IntakeState.APPLIED),
            ("old2", 40, IntakeState.APPLIED),
            ("recent", 10, IntakeState.APPLIED),
            ("failed", 40, IntakeState.FAILED),
        ]:
            raw = f"Subject: {name}\r\n\r\n{'x' * 1000}\r\n".encode()
            ids[name] = await store.spool(raw, "", RCPT, "127.0.0.1", now - timedelta(days=age))
            await store.mark_intake(ids[name], state, None, now)
    finally:
        await store.close()
    return ids


def _config(tmp_path: Path, db_path: Path, extra: str = "") -> Path:
    path = tmp_path / "bounced.toml"
    path.write_text(f'[storage]\npath = "{db_path}"\n{extra}', encoding="utf-8")
    return path


async def test_cli_prune_uses_keep_raw_days_and_stats_show_it(tmp_path: Path, db_path: Path) -> None:
    await _filled(db_path)
    config = _config(tmp_path, db_path)  # keep_raw_days = 30 by default
    before = bounced(config, "stats", "--json")
    assert before.returncode == 0, before.stderr
    data = json.loads(before.stdout)
    assert data["counts"] == {"pending": 0, "applied": 3, "unparseable": 0, "failed": 1}
    assert data["pruned"] == 0 and data["total"] == 4 and data["raw_bytes"] > 4000

    pruned = bounced(config, "prune")
    assert pruned.returncode == 0, pruned.stderr
    assert pruned.stdout.startswith("pruned the raw bytes of 2 applied messages received before")
    again = bounced(config, "prune", "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["pruned"] == 0

    after = json.loads(bounced(config, "stats", "--json").stdout)
    assert after["pruned"] == 2 and after["counts"] == data["counts"]
    assert data["raw_bytes"] - after["raw_bytes"] > 2000
    text = bounced(config, "stats")
    assert text.returncode == 0
    assert "applied      3" in text.stdout and "pruned: 2 messages" in text.stdout

    narrower = bounced(config, "prune", "--older-than", "5", "--json")
    assert narrower.returncode == 0 and json.loads(narrower.stdout)["pruned"] == 1  # "recent"


async def test_cli_prune_when_retention_is_off(tmp_path: Path, db_path: Path) -> None:
    await _filled(db_path)
    config = _config(tmp_path, db_path, "keep_raw_days = 0\n")
    result = bounced(config, "prune")
    assert result.returncode == 0 and "kept forever" in result.stdout
    assert json.loads(bounced(config, "stats", "--json").stdout)["pruned"] == 0
    explicit = bounced(config, "prune", "--older-than", "30", "--json")  # the operator asks: done
    assert json.loads(explicit.stdout)["pruned"] == 2


def test_cli_exit_codes(tmp_path: Path, db_path: Path) -> None:
    config = _config(tmp_path, db_path)
    for args in (["prune"], ["stats"]):
        missing = bounced(config, *args)
        assert missing.returncode == 1 and "no database" in missing.stderr
        assert not db_path.exists()  # a wrong --config creates nothing
    for bad in ("0", "-3", "soon"):
        usage = bounced(config, "prune", "--older-than", bad)
        assert usage.returncode == 2 and "positive number of days" in usage.stderr
    bad_config = _config(tmp_path, db_path, "keep_raw_days = -1\n")
    result = bounced(bad_config, "stats")
    assert result.returncode == 2 and "config error: storage.keep_raw_days:" in result.stderr


@pytest.mark.parametrize(
    ("setting", "key", "expected"),
    [
        ("keep_raw_days = -1", "storage.keep_raw_days", "0: keep raw bytes forever"),
        ('keep_raw_days = "30"', "storage.keep_raw_days", "expected an integer"),
        ("keep_raw_days = 1.5", "storage.keep_raw_days", "expected an integer"),
        ("prune_interval = 0", "storage.prune_interval", "positive number of seconds"),
        ("prune_interval = -60.0", "storage.prune_interval", "positive number of seconds"),
        ("prune_interval = nan", "storage.prune_interval", "positive number of seconds"),
        ('prune_interval = "1h"', "storage.prune_interval", "expected a number"),
    ],
)
def test_config_errors_name_the_key_and_the_form(setting: str, key: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(f"[storage]\n{setting}\n")
    assert caught.value.key == key and expected in str(caught.value)


def test_defaults_keep_thirty_days_and_run_hourly() -> None:
    config = parse_config("[storage]\nkeep_raw_days = 0\nprune_interval = 60\n")
    assert (config.storage.keep_raw_days, config.storage.prune_interval) == (0, 60.0)
    assert (StorageConfig().keep_raw_days, StorageConfig().prune_interval) == (30, 3600.0)
