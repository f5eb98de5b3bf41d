"""Crash loop: SIGKILL a real `bounced serve` (daemon, acceptor, worker) under a sustained
stream of distinct bounces, then check that every message that got 250 was applied once.

The daemon runs with its own temporary config and SQLite file on a random loopback port,
with acceptor processes and analysis worker processes. Several SMTP clients send distinct
bounces (hard ones and soft ones, one recipient each) and, as an MTA does, send a message
again until it gets 250. A killer picks, at random moments, the daemon process, an
acceptor or a worker from the process tree and SIGKILLs it; the daemon is started again
each time it dies (it starts its acceptors and workers again itself). After the last kill a
clean start drains what is pending, and the database is checked directly:

- lost: a 250'd message whose recipient has no event, or whose intake row is missing;
- doubled: a recipient with more than one event, or a profile counting more than one bounce;
- report: each cell of `report_soft_daily` / `report_soft_monthly` against a direct count
  of the soft events.

Run: `.venv/bin/python benchmarks/crash_loop.py --kills 30` (the CI guard is
`tests/daemon/test_crash_loop.py`: 5 kills, a few hundred messages).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import sqlite3
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiosmtplib

# The sibling below (also when a test imports this file) and the repository (tests.conftest).
sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]
from _crash_daemon import Daemon, acceptor_pids, worker_pids  # noqa: E402

__all__ = ["Figures", "check_database", "run"]

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "daemon" / "fixtures"
RCPT = ["b@bounces.example.com"]
KINDS = ("daemon", "acceptor", "worker")


@dataclass
class Figures:
    attempts: int = 0  # DATA transactions tried (a message sent again counts again)
    accepted: dict[int, int] = field(default_factory=dict)  # message number -> intake id
    refused: Counter[str] = field(default_factory=Counter)  # 4xx replies by code (sent again)
    unreachable: int = 0  # connections refused: the daemon was being started again
    broken: int = 0  # sessions dropped before a reply (the process serving them died)
    kills: Counter[str] = field(default_factory=Counter)
    daemon_starts: int = 0
    daemon_exits_on_its_own: int = 0
    lost: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)
    report_mismatches: list[str] = field(default_factory=list)
    not_applied: int = 0  # intake rows left pending/failed/unparseable after the drain
    intake_rows: int = 0
    events: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not (self.lost or self.doubled or self.report_mismatches or self.not_applied)

    def summary(self) -> str:
        kills = ", ".join(f"{kind} {self.kills[kind]}" for kind in KINDS)
        return (
            f"messages sent: {len(self.accepted)} distinct got 250 ({self.attempts} DATA attempts,"
            f" 4xx: {dict(self.refused) or 0}, {self.broken} sessions cut,"
            f" {self.unreachable} connects refused)\n"
            f"kills: {sum(self.kills.values())} ({kills}); daemon starts {self.daemon_starts},"
            f" exits on its own {self.daemon_exits_on_its_own}\n"
            f"intake rows {self.intake_rows} (copies sent again after a kill included),"
            f" events {self.events}\n"
            f"lost {len(self.lost)}, doubled {len(self.doubled)}, report cells wrong"
            f" {len(self.report_mismatches)}, not applied {self.not_applied}\n"
            f"time {self.seconds:.1f} s"
        )


def recipient(number: int) -> str:
    return f"crash{number}@example.org"


def is_soft(number: int) -> bool:
    return number % 4 == 3  # a quarter soft, the rest hard


def message_for(number: int, run_id: str) -> bytes:
    """A distinct bounce (its own recipient and Message-Id), as a client would send it."""
    if is_soft(number):
        raw = (
            (FIXTURES / "soft_mailboxfull.eml")
            .read_bytes()
            .replace(b"john.roe@example.org", recipient(number).encode())
        )
        raw = raw.replace(
            b"<20261126061002.4F1C2A0123@mx.example.org>", f"<{run_id}.{number}@mx.example.org>".encode()
        )
    else:
        raw = (
            (FIXTURES / "hard_userunknown.eml")
            .read_bytes()
            .replace(b"jane.doe@example.org", recipient(number).encode())
        )
        raw = f"Message-Id: <{run_id}.{number}@mx.example.org>\n".encode() + raw
    return raw


# --- clients ----------------------------------------------------------------------------


class Clients:
    def __init__(self, daemon: Daemon, figures: Figures, count: int, limit: int | None) -> None:
        self.daemon = daemon
        self.figures = figures
        self.count = count
        self.limit = limit  # stop taking new messages after this many (None: until told)
        self.run_id = uuid.uuid4().hex[:12]
        self._next = 0
        self.stopping = False

    def _take(self) -> int | None:
        if self.stopping or (self.limit is not None and self._next >= self.limit):
            return None
        number, self._next = self._next, self._next + 1
        return number

    async def run(self) -> None:
        await asyncio.gather(*(self._client(random.Random(i)) for i in range(self.count)))

    async def _client(self, rng: random.Random) -> None:
        number = self._take()
        while number is not None:
            client = aiosmtplib.SMTP(hostname="127.0.0.1", port=self.daemon.port, start_tls=False, timeout=15)
            try:
                await client.connect()
                for _ in range(rng.randint(1, 5)):  # a few messages per connection
                    await self._send(client, number)
                    number = self._take()
                    if number is None:
                        break
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                if isinstance(exc, aiosmtplib.SMTPConnectError):
                    self.figures.unreachable += 1
                elif not isinstance(exc, aiosmtplib.SMTPResponseException):
                    self.figures.broken += 1
                await asyncio.sleep(rng.uniform(0.05, 0.2))  # as an MTA: again, a bit later
            finally:
                client.close()

    async def _send(self, client: aiosmtplib.SMTP, number: int) -> None:
        self.figures.attempts += 1
        try:
            _, reply = await client.sendmail("", RCPT, message_for(number, self.run_id))
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code >= 500:
                raise RuntimeError(f"message {number} refused for good: {exc.code} {exc.message}") from exc
            self.figures.refused[f"{exc.code} {exc.message.split(' ', 1)[0]}"] += 1
            raise
        self.figures.accepted[number] = int(reply.rsplit(" ", 1)[1])


# --- the killer -----------------------------------------------------------------------


async def kill_loop(
    daemon: Daemon, figures: Figures, kills: int, gap: tuple[float, float], rng: random.Random
) -> None:
    plan = [KINDS[i % len(KINDS)] for i in range(kills)]
    rng.shuffle(plan)
    for kind in plan:
        await asyncio.sleep(rng.uniform(*gap))
        async with asyncio.timeout(60):  # e.g. the worker pool restarts with the next window
            while (pid := _target(daemon, kind, rng)) is None:
                await asyncio.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
            figures.kills[kind] += 1
        if kind == "daemon":
            assert daemon.proc is not None
            await daemon.proc.wait()
            await daemon.start()


def _target(daemon: Daemon, kind: str, rng: random.Random) -> int | None:
    proc = daemon.proc
    if proc is None or proc.returncode is not None:
        return None
    if kind == "daemon":
        return proc.pid
    pids = acceptor_pids(proc.pid) if kind == "acceptor" else worker_pids(proc.pid)
    return rng.choice(pids) if pids else None


async def supervise(daemon: Daemon, figures: Figures, done: asyncio.Event) -> None:
    """Start the daemon again when it exits by itself (the killer restarts its own kills)."""
    while not done.is_set():
        proc = daemon.proc
        assert proc is not None
        waiter = asyncio.ensure_future(proc.wait())
        stop = asyncio.ensure_future(done.wait())
        await asyncio.wait({waiter, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if done.is_set() or daemon.proc is not proc:
            waiter.cancel()
            continue
        await asyncio.sleep(0.3)  # the killer's own restart, if it was a kill
        if daemon.proc is proc and not done.is_set():
            figures.daemon_exits_on_its_own += 1
            await daemon.start()


# --- the check --------------------------------------------------------------------------


def check_database(db: Path, figures: Figures) -> None:
    """Count directly in the database what the 250s promised."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        figures.intake_rows = conn.execute("SELECT count(*) FROM intake").fetchone()[0]
        figures.not_applied = conn.execute("SELECT count(*) FROM intake WHERE state != 'applied'").fetchone()[
            0
        ]
        figures.events = conn.execute("SELECT count(*) FROM bounce_events").fetchone()[0]
        events = dict(
            conn.execute("SELECT recipient, count(*) FROM bounce_events GROUP BY recipient").fetchall()
        )
        kinds = dict(conn.execute("SELECT recipient, kind FROM bounce_events").fetchall())
        counted = dict(conn.execute("SELECT address, bounce_count FROM profiles").fetchall())
        intake_ids = {row[0] for row in conn.execute("SELECT id FROM intake")}
        suppressed = {row[0] for row in conn.execute("SELECT address FROM suppressions")}
        for number, intake_id in sorted(figures.accepted.items()):
            address = recipient(number)
            if intake_id not in intake_ids or events.get(address, 0) == 0:
                figures.lost.append(f"{number} ({address}, intake {intake_id})")
                continue
            if events[address] > 1 or counted.get(address, 0) != 1:
                figures.doubled.append(
                    f"{address}: {events[address]} events, profile count {counted.get(address)}"
                )
            expected = "soft" if is_soft(number) else "hard"
            if kinds.get(address) != expected or (expected == "hard") != (address in suppressed):
                figures.lost.append(
                    f"{address}: kind {kinds.get(address)}, suppressed {address in suppressed}"
                )
        for address, count in events.items():  # applied without a 250 seen: must be once too
            if count > 1 and not any(address in d for d in figures.doubled):
                figures.doubled.append(f"{address}: {count} events")
        figures.report_mismatches = report_mismatches(conn)
    finally:
        conn.close()


def report_mismatches(conn: sqlite3.Connection) -> list[str]:
    """Each report cell against a count of the soft events it stands for."""
    wrong = []
    for table, key in (
        ("report_soft_daily", "e.received_at / 86400000000"),
        ("report_soft_monthly", "CAST(strftime('%Y%m', e.received_at / 1000000, 'unixepoch') AS INTEGER)"),
    ):
        direct = conn.execute(
            f"SELECT {key}, coalesce(e.from_domain, ''), coalesce(e.sending_ip, ''), t.id, count(*)"
            " FROM bounce_events AS e JOIN report_soft_texts AS t"
            " ON t.recipient_domain = e.recipient_domain AND t.text_key = e.text_key"
            " WHERE e.kind = 'soft' GROUP BY 1, 2, 3, 4"
        ).fetchall()
        cells = conn.execute(f"SELECT * FROM {table}").fetchall()
        expected = {tuple(row[:4]): row[4] for row in direct}
        stored = {tuple(row[:4]): row[4] for row in cells}
        for cell in expected.keys() | stored.keys():
            if expected.get(cell) != stored.get(cell):
                wrong.append(f"{table} {cell}: stored {stored.get(cell)}, counted {expected.get(cell)}")
    return wrong


# --- the run ----------------------------------------------------------------------------


async def run(
    workdir: Path,
    kills: int = 20,
    clients: int = 8,
    gap: tuple[float, float] = (0.5, 2.5),
    acceptors: int = 2,
    workers: int = 2,
    seed: int | None = None,
    settle: float = 1.0,
) -> Figures:
    """The whole loop; returns the figures (the caller decides what fails)."""
    rng = random.Random(seed)
    figures = Figures()
    started = time.monotonic()
    daemon = Daemon(workdir, acceptors, workers)
    await daemon.start()
    senders = Clients(daemon, figures, clients, limit=None)
    sending = asyncio.create_task(senders.run())
    done = asyncio.Event()
    supervisor = asyncio.create_task(supervise(daemon, figures, done))
    try:
        await kill_loop(daemon, figures, kills, gap, rng)
        await asyncio.sleep(settle)  # some traffic after the last kill too
        senders.stopping = True  # each client finishes (gets 250 for) its current message
        await asyncio.wait_for(sending, 120)
    finally:
        done.set()
        await supervisor
        sending.cancel()
        await asyncio.gather(sending, return_exceptions=True)
    rc = await daemon.stop()
    if rc != 0:
        raise RuntimeError(f"daemon stopped with {rc}")
    await daemon.start()  # the final clean start applies whatever is still pending
    await _drained(daemon.db)
    if (rc := await daemon.stop()) != 0:
        raise RuntimeError(f"daemon stopped with {rc} after the drain")
    figures.daemon_starts = daemon.starts
    check_database(daemon.db, figures)
    figures.seconds = time.monotonic() - started
    return figures


async def _drained(db: Path, timeout: float = 120.0) -> None:
    async with asyncio.timeout(timeout):
        while True:
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
            try:
                (pending,) = conn.execute("SELECT count(*) FROM intake WHERE state = 'pending'").fetchone()
            finally:
                conn.close()
            if pending == 0:
                return
            await asyncio.sleep(0.1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs in all (default 20)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent SMTP clients (default 8)")
    parser.add_argument("--gap", type=float, nargs=2, default=(0.5, 2.5), metavar=("MIN", "MAX"),
                        help="seconds between kills, drawn uniformly (default 0.5 2.5)")  # fmt: skip
    parser.add_argument("--acceptors", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, database)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bounced-crash-loop-"))
    figures = asyncio.run(
        run(workdir, args.kills, args.clients, tuple(args.gap), args.acceptors, args.workers, args.seed)
    )
    print(figures.summary())
    return finish(workdir, figures.ok, figures.lost + figures.doubled + figures.report_mismatches, args.keep)


def finish(workdir: Path, ok: bool, problems: list[str], keep: bool) -> int:
    """Print the first problems; keep the work directory when asked or when the run failed
    (its logs and databases say why), else remove it. The exit status."""
    for line in problems[:20]:
        print("  ", line)
    if keep or not ok:
        print(f"work directory: {workdir}")
    else:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    import _figures  # --figures: the output becomes docs/figures.md's latest run

    raise SystemExit(_figures.run(main, "crash_loop"))
