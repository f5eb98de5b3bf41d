"""`bounced serve` as a real process: sd_notify, signals, and a SIGKILL in the middle of work."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiosmtplib
import pytest

from bounced.config import StorageConfig
from bounced.model import BounceKind, IntakeState
from bounced.store import open_store
from tests.conftest import child_pids, free_port
from tests.harness import send_mail
from tests.store_helpers import intake_counts

pytestmark = pytest.mark.slow  # real daemon processes (CI runs them; `-m "not slow"` skips)

FIXTURES = Path(__file__).parent / "fixtures"
HARD = (FIXTURES / "hard_userunknown.eml").read_bytes()
RCPT = ["b@bounces.example.com"]


class NotifySocket:
    """What systemd would see: a datagram socket in the abstract namespace."""

    def __init__(self) -> None:
        self.name = f"@bounced-test-{uuid.uuid4().hex}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.name[1:])
        self.sock.setblocking(False)
        self.seen: list[str] = []

    async def expect(self, line: str, timeout: float = 20.0) -> None:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout):
            while True:
                data = await loop.sock_recv(self.sock, 4096)
                lines = data.decode().splitlines()
                self.seen.extend(lines)
                if line in lines:
                    return

    def close(self) -> None:
        self.sock.close()


class ServeProcess:
    def __init__(self, tmp_path: Path, extra_config: str = "", acceptors: int = 0) -> None:
        self.tmp_path = tmp_path
        self.acceptors = acceptors
        self.port = free_port()
        self.db = tmp_path / "bounced.sqlite3"
        self.config = tmp_path / "bounced.toml"
        self.write_config(extra_config)
        self.notify = NotifySocket()
        self.proc: asyncio.subprocess.Process | None = None
        self.env: dict[str, str] = {}  # added to the daemon's environment
        self.runs = 0

    def write_config(self, extra: str = "") -> None:
        self.config.write_text(
            f'[smtp]\nlisten = "127.0.0.1:{self.port}"\ndomains = ["bounces.example.com"]\n'
            f"acceptors = {self.acceptors}\n"
            f'[storage]\npath = "{self.db}"\n[verp]\nunsigned_bounces = "suppress"\n{extra}'
        )

    async def start(self) -> None:
        self.runs += 1
        stderr = open(self.tmp_path / f"stderr.{self.runs}.log", "wb")  # noqa: SIM115 - owned by the child
        env = {**os.environ, "NOTIFY_SOCKET": self.notify.name, **self.env}
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bounced", "serve", "--config", str(self.config),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=stderr, env=env,
        )  # fmt: skip
        stderr.close()
        await self.notify.expect("READY=1")

    def stderr(self) -> str:
        return (self.tmp_path / f"stderr.{self.runs}.log").read_text()

    async def signal(self, sig: int) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        return await asyncio.wait_for(self.proc.wait(), 30)

    async def close(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        self.notify.close()


@pytest.fixture
async def serve(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[ServeProcess]:
    process = ServeProcess(tmp_path, acceptors=getattr(request, "param", 0))
    yield process
    await process.close()


async def wait_until_applied(db: Path, total: int, timeout: float = 30.0) -> dict[IntakeState, int]:
    """Poll the database (read-only, as an operator would) until nothing is pending."""
    store = await open_store(StorageConfig(path=str(db)))
    try:
        async with asyncio.timeout(timeout):
            while True:
                counts = await intake_counts(store)
                if counts[IntakeState.PENDING] == 0 and sum(counts.values()) >= total:
                    return counts
                await asyncio.sleep(0.05)
    finally:
        await store.close()


def hard_bounce_for(i: int) -> bytes:
    return HARD.replace(b"jane.doe@example.org", f"user{i}@example.org".encode())


async def no_process_writes_to(log: Path, timeout: float) -> bool:
    """True once no process has `log` as its stderr (children of a killed daemon included)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        holders = []
        for fd2 in Path("/proc").glob("[0-9]*/fd/2"):
            try:
                if os.readlink(fd2) == str(log):
                    holders.append(fd2.parent.parent.name)
            except OSError:
                continue  # the process ended meanwhile
        if not holders:
            return True
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.2)


@pytest.mark.parametrize("serve", [0, 2], indirect=True, ids=["in-process", "2-acceptors"])
async def test_sigkill_after_a_burst_loses_nothing_and_applies_nothing_twice(serve: ServeProcess) -> None:
    # Analysis in worker processes, applying alongside the burst: the kill lands mid-apply.
    # 200 identical texts for one domain would trip the mass-failure guard: off, since this
    # test counts suppressions to prove each bounce was applied exactly once.
    serve.write_config(
        "[processing]\npool_min_batch = 1\nburst_hold = 0.0\n[policy.guard]\nenabled = false\n"
    )
    await serve.start()
    total, connections = 200, 10
    ids: list[int] = []

    async def one_connection(first: int) -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=serve.port, start_tls=False, timeout=30)
        async with client:
            for i in range(first, total, connections):
                _, reply = await client.sendmail("", RCPT, hard_bounce_for(i))
                ids.append(int(reply.rsplit(" ", 1)[1]))

    await asyncio.gather(*(one_connection(c) for c in range(connections)))
    assert await serve.signal(signal.SIGKILL) == -signal.SIGKILL
    assert len(set(ids)) == total  # every message got its own 250 and id
    # The killed daemon's analysis workers (and their forkserver), and its acceptors, end by
    # themselves.
    killed_log = serve.tmp_path / f"stderr.{serve.runs}.log"
    assert "analyser_pool_started" in killed_log.read_text()
    assert await no_process_writes_to(killed_log, timeout=10)
    store = await open_store(StorageConfig(path=str(serve.db)))
    try:
        at_kill = await intake_counts(store)
        assert sum(at_kill.values()) == total  # every 250 was durable
    finally:
        await store.close()
    print(f"pending when killed: {at_kill[IntakeState.PENDING]} of {total}")

    await serve.start()  # recovery: what was acknowledged but not applied goes first
    counts = await wait_until_applied(serve.db, total)
    assert counts[IntakeState.APPLIED] == total
    assert counts[IntakeState.FAILED] == counts[IntakeState.UNPARSEABLE] == 0
    store = await open_store(StorageConfig(path=str(serve.db)))
    try:
        assert await store.count_suppressions() == total
        for i in range(total):
            events = await store.events_for(f"user{i}@example.org")
            assert [e.kind for e in events] == [BounceKind.HARD]  # once, not twice
    finally:
        await store.close()
    assert await serve.signal(signal.SIGTERM) == 0


@pytest.mark.parametrize("serve", [0, 2], indirect=True, ids=["in-process", "2-acceptors"])
async def test_sigterm_stops_gracefully_with_exit_0(serve: ServeProcess) -> None:
    await serve.start()
    await send_mail(serve.port, "", RCPT, HARD)
    idle = aiosmtplib.SMTP(hostname="127.0.0.1", port=serve.port, start_tls=False)
    await idle.connect()
    assert await serve.signal(signal.SIGTERM) == 0
    await serve.notify.expect("STOPPING=1", timeout=5)
    assert "msg=stopped" in serve.stderr()
    idle.close()
    store = await open_store(StorageConfig(path=str(serve.db)))
    try:
        counts = await intake_counts(store)
        assert sum(counts.values()) == 1  # spooled before 250, whether or not applied yet
    finally:
        await store.close()


async def test_sighup_reloads_rules_without_dropping_an_open_connection(serve: ServeProcess) -> None:
    await serve.start()
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=serve.port, start_tls=False, timeout=30)
    async with client:
        await client.ehlo()
        serve.write_config('[[classify.overrides]]\nreason = "userunknown"\nkind = "soft"\n')
        assert serve.proc is not None
        serve.proc.send_signal(signal.SIGHUP)
        await serve.notify.expect("RELOADING=1")
        await serve.notify.expect("READY=1")
        await client.sendmail("", RCPT, HARD)  # same connection, opened before the reload
    await wait_until_applied(serve.db, 1)
    store = await open_store(StorageConfig(path=str(serve.db)))
    try:
        (event,) = await store.events_for("jane.doe@example.org")
        assert event.kind is BounceKind.SOFT  # the override added by the reload decided
        assert await store.get_suppression("jane.doe@example.org") is None
    finally:
        await store.close()
    assert "msg=reloaded" in serve.stderr()
    assert await serve.signal(signal.SIGTERM) == 0


async def run_cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bounced", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env={**os.environ, **(env or {})},
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_bad_config_exits_2_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[smtp]\nlisten = "0.0.0.0:2525"\n')
    code, out = await run_cli("serve", "--config", str(path))
    assert code == 2
    assert "smtp.domains" in out


async def test_port_in_use_exits_1_with_a_clear_message(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        path = tmp_path / "b.toml"
        path.write_text(f'[smtp]\nlisten = "127.0.0.1:{port}"\n[storage]\npath = "{tmp_path / "db"}"\n')
        code, out = await run_cli("serve", "--config", str(path))
    assert code == 1
    assert "address already in use" in out
    assert f"127.0.0.1:{port}" in out


async def test_database_in_a_missing_directory_exits_1_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "b.toml"
    path.write_text(
        f'[smtp]\nlisten = "127.0.0.1:{free_port()}"\n[storage]\npath = "{tmp_path}/no/such/db"\n'
    )
    code, out = await run_cli("serve", "--config", str(path))
    assert code == 1
    assert "cannot start" in out and "does not exist" in out


@pytest.mark.parametrize("serve", [2], indirect=True, ids=["2-acceptors"])
async def test_sigterm_to_the_whole_cgroup_stops_cleanly(serve: ServeProcess) -> None:
    """systemd's stop signals every process of the unit at once, acceptors included."""
    await serve.start()
    assert serve.proc is not None
    children = child_pids(serve.proc.pid, b"bounced.intake.acceptor")
    assert len(children) == 2
    await send_mail(serve.port, "", RCPT, HARD)
    for pid in children:
        os.kill(pid, signal.SIGTERM)
    async with asyncio.timeout(10):  # the worst order: the acceptors are gone first
        while child_pids(serve.proc.pid, b"bounced.intake.acceptor"):
            await asyncio.sleep(0.02)
    assert await serve.signal(signal.SIGTERM) == 0
    assert "msg=stopped" in serve.stderr()
    assert "acceptor exited; starting another" not in serve.stderr()
    assert await no_process_writes_to(serve.tmp_path / f"stderr.{serve.runs}.log", timeout=10)
    counts = await wait_until_applied(serve.db, 1)
    assert sum(counts.values()) == 1


@pytest.mark.parametrize("serve", [2], indirect=True, ids=["2-acceptors"])
async def test_the_standard_asyncio_loop_serves_too(serve: ServeProcess) -> None:
    """uvloop is the default; BOUNCED_EVENT_LOOP=asyncio is the fallback, acceptors included."""
    serve.env = {"BOUNCED_EVENT_LOOP": "asyncio"}
    await serve.start()
    assert "loop=asyncio" in serve.stderr() and "acceptors=2" in serve.stderr()
    await send_mail(serve.port, "", RCPT, HARD)
    counts = await wait_until_applied(serve.db, 1)
    assert counts[IntakeState.APPLIED] == 1
    assert await serve.signal(signal.SIGTERM) == 0


async def test_uvloop_is_the_default_loop(serve: ServeProcess) -> None:
    await serve.start()
    assert "loop=uvloop" in serve.stderr()
    assert await serve.signal(signal.SIGTERM) == 0
