"""`bounced intake list|show|retry`: quarantined mail, as a real subprocess over a real
SQLite file that the real processor filled."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bounced.clock import FakeClock
from bounced.config import load_config
from bounced.config.storage import StorageConfig
from bounced.model import BounceKind, IntakeState
from bounced.processor import Processor, ProcessorSettings
from bounced.store import open_store
from tests.store_helpers import intake_counts, is_suppressed

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "daemon" / "fixtures"
RECEIVED = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)
# Not mail at all: bare LF, CR, NUL and 8-bit bytes, which `show --raw` must give back exactly.
JUNK = b"\x00\x01 not a message\n\r\nline\r\xff\xfe\x80 end\r\n"
# A temporary database fault while applying (a broken schema change, rolled back later):
# the insert of any event fails, so the processor quarantines the message.
FAULT = (
    "CREATE TRIGGER temporary_fault BEFORE INSERT ON bounce_events"
    " BEGIN SELECT RAISE(ABORT, 'temporary fault'); END"
)


def hard_bounce(address: str) -> bytes:
    return (FIXTURES / "hard_userunknown.eml").read_bytes().replace(b"jane.doe@example.org", address.encode())


@pytest.fixture
def config_file(tmp_path: Path, db_path: Path) -> Path:
    path = tmp_path / "bounced.toml"
    path.write_text(f'[storage]\npath = "{db_path}"\n[verp]\nunsigned_bounces = "suppress"\n')
    return path


def bounced(config: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "BOUNCED_CONFIG"}
    return subprocess.run(
        [sys.executable, "-m", "bounced", "intake", *args, "--config", str(config)],
        capture_output=True, env=env, cwd=REPO, timeout=60, check=False,
    )  # fmt: skip


async def spool_and_process(
    config: Path, db_path: Path, messages: list[bytes], fault: bool = False
) -> list[int]:
    """Spool `messages` and run the real processor over them (one attempt each)."""
    store = await open_store(StorageConfig(path=str(db_path)))
    try:
        ids = [
            await store.spool(raw, "", ["b@bounces.example.com"], "192.0.2.1:25", RECEIVED)
            for raw in messages
        ]
        if fault:
            with sqlite3.connect(db_path) as conn:
                conn.execute(FAULT)
        settings = ProcessorSettings(max_attempts=1)
        processor = Processor(store, load_config(str(config)), FakeClock(RECEIVED), settings=settings)
        await processor.run_once()
        await processor.analyser.close()
    finally:
        await store.close()
    if fault:
        with sqlite3.connect(db_path) as conn:
            conn.execute("DROP TRIGGER temporary_fault")  # the fault is gone: retry may succeed
    return ids


async def test_list_and_show_quarantined_messages_raw_bytes_exactly(config_file: Path, db_path: Path) -> None:
    junk_ids = await spool_and_process(
        config_file, db_path, [JUNK, JUNK + b"2", hard_bounce("ok@example.org")]
    )
    junk_ids = junk_ids[:2]

    listed = bounced(config_file, "list", "--state", "unparseable", "--json")
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    assert [item["id"] for item in data["items"]] == junk_ids
    assert data["next_after"] is None
    assert data["items"][0]["size"] == len(JUNK) and data["items"][0]["error"]
    assert data["items"][0]["peer"] == "192.0.2.1:25"

    first_page = bounced(config_file, "list", "--state", "unparseable", "--limit", "1", "--json")
    assert json.loads(first_page.stdout)["next_after"] == junk_ids[0]
    assert f"--after {junk_ids[0]}" in first_page.stderr.decode()  # a cut listing says so
    second = json.loads(bounced(config_file, "list", "--state", "unparseable", "--after", str(junk_ids[0]),
                                "--json").stdout)  # fmt: skip
    assert [item["id"] for item in second["items"]] == [junk_ids[1]]

    text = bounced(config_file, "list", "--state", "unparseable").stdout.decode()
    assert str(junk_ids[0]) in text and "size=" in text
    assert json.loads(bounced(config_file, "list", "--state", "failed", "--json").stdout)["items"] == []

    raw = bounced(config_file, "show", str(junk_ids[0]), "--raw")
    assert raw.returncode == 0
    assert raw.stdout == JUNK  # byte for byte: no newline added, nothing decoded
    shown = json.loads(bounced(config_file, "show", str(junk_ids[0]), "--json").stdout)
    assert shown["state"] == "unparseable" and shown["size"] == len(JUNK)
    missing = bounced(config_file, "show", "9999")
    assert missing.returncode == 1 and b"no intake message with id 9999" in missing.stderr


async def test_retry_after_a_temporary_fault_applies_once(config_file: Path, db_path: Path) -> None:
    # The same bounce received twice (two intake rows, same bytes), then another one.
    twice = hard_bounce("gone@example.org")
    ids = await spool_and_process(
        config_file, db_path, [twice, twice, hard_bounce("other@example.org")], fault=True
    )
    failed = json.loads(bounced(config_file, "list", "--state", "failed", "--json").stdout)["items"]
    assert [item["id"] for item in failed] == ids
    assert "temporary fault" in failed[0]["error"]

    first = bounced(config_file, "retry", str(ids[0]), "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["results"] == [
        {"id": ids[0], "state": "applied", "new_events": 1, "duplicate_events": 0, "error": None}
    ]
    # The copy produced the same event already: applied, nothing recorded twice.
    copy = json.loads(bounced(config_file, "retry", str(ids[1]), "--json").stdout)["results"][0]
    assert (copy["state"], copy["new_events"], copy["duplicate_events"]) == ("applied", 0, 1)
    again = bounced(config_file, "retry", str(ids[0]))
    assert again.returncode == 1 and b"already applied" in again.stderr

    rest = bounced(config_file, "retry", "--state", "failed")
    assert rest.returncode == 0, rest.stderr
    assert b"retried 1, applied 1" in rest.stdout
    assert json.loads(bounced(config_file, "list", "--state", "failed", "--json").stdout)["items"] == []

    store = await open_store(StorageConfig(path=str(db_path)))
    try:
        for address in ("gone@example.org", "other@example.org"):
            assert [e.kind for e in await store.events_for(address)] == [BounceKind.HARD]
            profile = await store.get_profile(address)
            assert profile is not None and profile.bounce_count == 1
            assert await is_suppressed(store, address)
        counts = await intake_counts(store)
        assert counts[IntakeState.APPLIED] == 3 and counts[IntakeState.FAILED] == 0
    finally:
        await store.close()


async def test_retry_of_what_still_fails_keeps_it_quarantined(config_file: Path, db_path: Path) -> None:
    [junk] = await spool_and_process(config_file, db_path, [JUNK])
    result = bounced(config_file, "retry", "--state", "unparseable")
    assert result.returncode == 1
    assert f"{junk}: still unparseable".encode() in result.stdout
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT state FROM intake WHERE id = ?", (junk,)).fetchone() == ("unparseable",)
    usage = bounced(config_file, "retry")
    assert usage.returncode == 2  # neither an id nor --state
    assert bounced(config_file, "list", "--state", "applied").returncode == 2  # not a listable state
