"""The crash loop's daemon: a real `bounced serve` with its own config and database, and
the processes of its tree (acceptors; analysis workers under the forkserver)."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
import time
from pathlib import Path

from tests.conftest import child_pids  # the test suite's own reading of /proc

__all__ = ["Daemon", "acceptor_pids", "worker_pids"]


def acceptor_pids(daemon: int) -> list[int]:
    return child_pids(daemon, b"bounced.intake.acceptor")


def worker_pids(daemon: int) -> list[int]:
    """Analysis workers: children of the daemon's multiprocessing forkserver."""
    # Forked without exec, a worker has the forkserver's command line.
    return [pid for server in child_pids(daemon, b"forkserver") for pid in child_pids(server, b"forkserver")]


class Daemon:
    def __init__(self, workdir: Path, acceptors: int, workers: int) -> None:
        self.workdir = workdir
        self.db = workdir / "bounced.sqlite3"
        self.config = workdir / "bounced.toml"
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.config.write_text(
            f'[smtp]\nlisten = "127.0.0.1:{self.port}"\ndomains = ["bounces.example.com"]\n'
            f'acceptors = {acceptors}\n[storage]\npath = "{self.db}"\n'
            '[verp]\nunsigned_bounces = "suppress"\n'
            # Thousands of identical hard bounces to one domain: the mass-failure guard would
            # (rightly) hold them; this loop checks durability, not the guard.
            "[policy.guard]\nenabled = false\n"
            # Every window goes to the worker processes, applied alongside the stream.
            f"[processing]\nworkers = {workers}\npool_min_batch = 1\nburst_hold = 0.0\n"
        )
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0

    async def start(self, timeout: float = 60.0) -> None:
        """Start and wait until it listens. The acceptors of a killed daemon may hold the
        port a moment longer: a start that fails is tried again."""
        deadline = time.monotonic() + timeout
        while True:
            self.starts += 1
            log = open(self.workdir / f"daemon.{self.starts}.log", "wb")  # noqa: SIM115 - the child's
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bounced", "serve", "--config", str(self.config),
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=log,
            )  # fmt: skip
            log.close()
            while self.proc.returncode is None and not self._listening():
                await asyncio.sleep(0.05)
            if self.proc.returncode is None:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"daemon does not start: see {self.workdir}/daemon.{self.starts}.log")
            await asyncio.sleep(0.2)

    def _listening(self) -> bool:
        log = (self.workdir / f"daemon.{self.starts}.log").read_bytes()
        return b"msg=started" in log

    async def stop(self) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.proc.wait(), 60)
