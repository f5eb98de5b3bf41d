"""When the spool cannot be written the listener refuses with 4xx, logs once per incident,
keeps serving and recovers by itself; it never answers 250 for a message not on disk.

Full disk: the database on a small tmpfs (mounted by the test; where mounting is not
allowed, SQLite's `max_page_count` on the daemon's writer gives the same SQLITE_FULL).
Locked: another connection holds the write lock past a short `busy_timeout`.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiosmtplib
import pytest

from bounced.model import IntakeState
from tests.harness import RunningDaemon, make_config, running_daemon

FIXTURES = Path(__file__).resolve().parents[1] / "daemon" / "fixtures"
RCPT = ["b@bounces.example.com"]
PADDING = ("x" * 76 + "\r\n") * 640  # ~50 kB: the disk fills after a few dozen messages


def bounce(number: int, padded: bool = False) -> bytes:
    raw = (FIXTURES / "hard_userunknown.eml").read_bytes()
    raw = raw.replace(b"jane.doe@example.org", f"full{number}@example.org".encode())
    return raw + (PADDING.encode() if padded else b"")


@dataclass
class Tally:
    """Every reply the clients got."""

    accepted: list[int] = field(default_factory=list)  # intake ids from the 250s
    refused: list[str] = field(default_factory=list)  # "452 4.3.1 ..." etc.
    sent: int = 0

    async def send(self, client: aiosmtplib.SMTP, padded: bool = False) -> bool:
        """One message on an open session; True when it got 250."""
        number, self.sent = self.sent, self.sent + 1
        try:
            _, reply = await client.sendmail("", RCPT, bounce(number, padded))
        except aiosmtplib.SMTPDataError as exc:
            assert 400 <= exc.code < 500, f"a permanent refusal loses the bounce: {exc.code} {exc.message}"
            self.refused.append(f"{exc.code} {exc.message}")
            return False
        self.accepted.append(int(reply.rsplit(" ", 1)[1]))
        return True


@contextlib.asynccontextmanager
async def sessions(port: int, count: int) -> AsyncIterator[list[aiosmtplib.SMTP]]:
    clients = [
        aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, timeout=60) for _ in range(count)
    ]
    for client in clients:
        await client.connect()
    try:
        yield clients
    finally:
        for client in clients:
            client.close()


def incident_lines(caplog: pytest.LogCaptureFixture) -> tuple[int, int]:
    messages = [r.getMessage() for r in caplog.records if r.name == "bounced.intake.spool"]
    return sum(m.startswith("spool failing") for m in messages), messages.count("spool recovered")


async def stored_ids(running: RunningDaemon) -> set[int]:
    ids: set[int] = set()
    for state in IntakeState:
        ids.update(row.id for row in await running.store.list_intake(state, limit=100_000))  # type: ignore[attr-defined]
    return ids


class SmallDisk:
    """An 8 MB tmpfs holding the database and a 5.5 MB ballast file; freeing the ballast is
    "space returns" (more than the WAL holds: its checkpoint into the database file needs
    that much). Falls back to `max_page_count` where the test cannot mount."""

    def __init__(self, tmp_path: Path) -> None:
        self.dir = tmp_path / "disk"
        self.dir.mkdir()
        self.ballast = self.dir / "ballast"
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(self.dir)],
            capture_output=True,
            check=False,
        )
        self.mounted = mounted.returncode == 0
        if self.mounted:
            self.ballast.write_bytes(b"\0" * (5632 * 1024))

    async def fill(self, running: RunningDaemon) -> None:
        if not self.mounted:  # the writer connection may grow by ~50 messages' worth of pages
            writer = running.store._writer  # type: ignore[attr-defined]
            [(pages,)] = await writer.execute_fetchall("PRAGMA page_count")
            await writer.execute(f"PRAGMA max_page_count = {pages + 600}")

    async def free(self, running: RunningDaemon) -> None:
        if self.mounted:
            self.ballast.unlink()
        else:
            await running.store._writer.execute("PRAGMA max_page_count = 1073741823")  # type: ignore[attr-defined]

    def close(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.dir)], capture_output=True, check=False)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    disk = SmallDisk(tmp_path)
    try:
        yield disk
    finally:
        disk.close()


@pytest.mark.parametrize("acceptors", [0, 2], ids=["in-process", "2-acceptors"])
async def test_full_disk_gets_452_until_space_returns(
    small_disk: SmallDisk, acceptors: int, caplog: pytest.LogCaptureFixture
) -> None:
    config = make_config(
        small_disk.dir,
        smtp={"domains": ["bounces.example.com"], "acceptors": acceptors},
        processing={"workers": 0},
    )
    tally = Tally()
    with caplog.at_level(logging.INFO, logger="bounced.intake.spool"):
        async with running_daemon(config) as running, sessions(running.smtp_port, 3) as clients:
            await small_disk.fill(running)
            # Fill the disk: keep sending on the same sessions until ten are refused.
            while len(tally.refused) < 10:
                assert tally.sent < 600, "the disk never filled"
                for client in clients:
                    await tally.send(client, padded=True)
            accepted_before = len(tally.accepted)
            assert accepted_before > 0
            assert all(r.startswith("452 4.3.1") for r in tally.refused), tally.refused
            assert incident_lines(caplog) == (1, 0)  # one line for the incident, not ten

            await small_disk.free(running)
            for _ in range(4):  # the same sessions, untouched by the incident, now store again
                for client in clients:
                    assert await tally.send(client)
            await running.drained(timeout=60)
            assert incident_lines(caplog) == (1, 1)
            # Every 250 is on disk, and nothing refused is: 250s == rows stored.
            assert await stored_ids(running) == set(tally.accepted)
            assert len(tally.accepted) == accepted_before + 12
    print(f"tmpfs={small_disk.mounted} accepted={len(tally.accepted)} refused={len(tally.refused)}")


@pytest.mark.parametrize("acceptors", [0, 2], ids=["in-process", "2-acceptors"])
async def test_database_locked_past_busy_timeout_gets_451_then_recovers(
    tmp_path: Path, acceptors: int, caplog: pytest.LogCaptureFixture
) -> None:
    config = make_config(
        tmp_path,
        smtp={"domains": ["bounces.example.com"], "acceptors": acceptors},
        storage={"busy_timeout": 0.2},
        processing={"workers": 0},
    )
    tally = Tally()
    with caplog.at_level(logging.INFO, logger="bounced.intake.spool"):
        async with running_daemon(config) as running, sessions(running.smtp_port, 2) as clients:
            for client in clients:
                assert await tally.send(client)
            await running.drained()
            blocker = sqlite3.connect(config.storage.path, isolation_level=None)
            try:
                blocker.execute("BEGIN IMMEDIATE")  # an operator's long write, a stuck tool
                for _ in range(3):
                    for client in clients:
                        assert not await tally.send(client)
            finally:
                blocker.execute("ROLLBACK")
                blocker.close()
            assert len(tally.refused) == 6
            assert all(r.startswith("451 4.3.0") for r in tally.refused), tally.refused
            assert incident_lines(caplog) == (1, 0)
            for client in clients:
                assert await tally.send(client)
            await running.drained(timeout=30)
            assert incident_lines(caplog) == (1, 1)
            assert await stored_ids(running) == set(tally.accepted)
            assert len(tally.accepted) == 4
