"""`[smtp] acceptors = N`: N acceptor processes run the SMTP sessions; this process keeps the
store and makes their messages durable.

The daemon binds the listening socket once (so port 25 needs the capability in one place and
port 0 works in tests) and hands it to each acceptor with a socketpair link. An acceptor
sends each message over its link; the daemon stamps it with its clock, spools it (grouped
with every other session's, one SQLite writer) and answers with the intake id, and only then
does the acceptor answer 250. An acceptor that dies is started again; the daemon's death
closes the links and every acceptor stops (`bounced.intake.acceptor`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bounced.clock import Clock
from bounced.config.smtp import SmtpConfig
from bounced.errors import SpoolError
from bounced.intake import link as wire  # the messages and framing of the link
from bounced.intake.incidents import SpoolIncidents
from bounced.intake.limits import SharedCounts, create_shared_table
from bounced.intake.listener import LISTEN_BACKLOG, make_tls_context
from bounced.intake.replies import ReplyTally
from bounced.logfmt import kv

if TYPE_CHECKING:  # not at run time: the acceptor processes do not load the store package
    from bounced.store.base import IntakeSpool

__all__ = ["AcceptorPool"]

log = logging.getLogger("bounced.intake.acceptor")

_START_TIMEOUT = 30.0
RESTART_DELAY = 0.5  # doubled for each quick death in a row
_RESTART_DELAY_MAX = 30.0
_QUICK_DEATH = 10.0  # seconds: dying sooner after start counts as failing to start
_MAX_QUICK_FAILURES = 5
_SIGNALLED_GRACE = 2.0


@dataclass
class _Acceptor:
    index: int
    process: asyncio.subprocess.Process
    reader: asyncio.StreamReader
    link: wire.FrameWriter
    started: float
    ready: asyncio.Future[str | None]  # None: listening; else why it never did
    stopped: bool = False  # it said so: a signal or our "stop", not a crash
    follower: asyncio.Task[None] | None = None
    spools: set[asyncio.Task[None]] = field(default_factory=set)
    configured: asyncio.Future[None] | None = None  # a reload's settings applied (acknowledged)


class AcceptorPool:
    def __init__(
        self,
        count: int,
        settings: Callable[[], SmtpConfig],
        log_level: Callable[[], str],
        store: IntakeSpool,
        clock: Clock,
        on_spooled: Callable[[int], None],
        on_fatal: Callable[[str], None],
    ) -> None:
        self.count = count
        self.settings = settings
        self.log_level = log_level
        self.store = store
        self.clock = clock
        self.on_spooled = on_spooled
        self.on_fatal = on_fatal
        self.acceptors: dict[int, _Acceptor] = {}
        self.incidents = SpoolIncidents()  # logged here, where the store fails, not by each acceptor
        self.replies = ReplyTally()  # the sum of what the acceptors report, for /metrics
        self._sock: socket.socket | None = None
        self._counts_fd: int | None = None  # the connection table every acceptor counts in
        self._stopping = False
        self._failures = [0] * count  # quick deaths in a row, per slot: the restart back-off

    @property
    def port(self) -> int:
        assert self._sock is not None
        return int(self._sock.getsockname()[1])

    @property
    def pids(self) -> list[int]:
        return [a.process.pid for a in self.acceptors.values()]

    async def start(self) -> None:
        """Bind, start every acceptor and wait until each listens. OSError on bind or when an
        acceptor does not come up (after stopping the others)."""
        cfg = self.settings()
        make_tls_context(cfg)  # a bad certificate is a ConfigError here, not in N children
        self._sock = _bind(*cfg.host_port)
        self._counts_fd = create_shared_table(self.count)
        try:
            await asyncio.gather(*(self._start_one(i) for i in range(self.count)))
        except BaseException:
            await self.stop(0.0)
            raise

    async def _start_one(self, index: int) -> None:
        assert self._sock is not None and self._counts_fd is not None
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        with theirs:
            env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}  # READY is ours
            fds = (self._sock.fileno(), theirs.fileno(), self._counts_fd)
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bounced.intake.acceptor", *map(str, fds), str(index),
                pass_fds=fds, stdin=asyncio.subprocess.DEVNULL, env=env,
            )  # fmt: skip
        reader, writer = await asyncio.open_unix_connection(sock=ours)
        link = wire.FrameWriter(writer)
        loop = asyncio.get_running_loop()
        acceptor = _Acceptor(index, process, reader, link, time.monotonic(), loop.create_future())
        self.acceptors[index] = acceptor
        link.send(wire.Configure(self.settings(), self.log_level()))
        acceptor.follower = asyncio.create_task(self._follow(acceptor))
        try:
            failure = await asyncio.wait_for(asyncio.shield(acceptor.ready), _START_TIMEOUT)
        except TimeoutError:
            raise OSError(f"acceptor {index} did not start within {_START_TIMEOUT:.0f} s") from None
        if failure is not None:
            raise OSError(failure)

    async def _follow(self, acceptor: _Acceptor) -> None:
        try:
            while True:
                frame = await wire.read_frame(acceptor.reader)
                if isinstance(frame, wire.SpoolRequest):
                    task = asyncio.create_task(self._spool(acceptor, frame))
                    acceptor.spools.add(task)
                    task.add_done_callback(acceptor.spools.discard)
                elif isinstance(frame, wire.Ready) and not acceptor.ready.done():
                    acceptor.ready.set_result(None)
                elif isinstance(frame, wire.Replies):
                    self.replies.add(frame.counts)
                elif isinstance(frame, wire.Configured):
                    if acceptor.configured is not None and not acceptor.configured.done():
                        acceptor.configured.set_result(None)
                elif isinstance(frame, wire.Stopped):
                    acceptor.stopped = True
        except wire.LinkClosed:
            pass
        if acceptor.configured is not None and not acceptor.configured.done():
            acceptor.configured.set_result(None)  # gone: its replacement starts with the new settings
        returncode = await acceptor.process.wait()
        if self._counts_fd is not None:  # its connections died with it
            SharedCounts.clear_row(self._counts_fd, acceptor.index)
        if acceptor.spools:
            await asyncio.gather(*acceptor.spools, return_exceptions=True)
        acceptor.link.close()
        if not acceptor.ready.done():
            acceptor.ready.set_result(f"acceptor {acceptor.index} exited {returncode} at start")
            return
        if acceptor.stopped and not self._stopping:
            # Stopped by a signal: under systemd the whole unit is being stopped, and the
            # daemon's own SIGTERM is on its way; give it a moment before replacing this one.
            await asyncio.sleep(_SIGNALLED_GRACE)
        if self._stopping:
            return
        log.error("acceptor exited; starting another", extra=kv(index=acceptor.index, rc=returncode))
        await self._restart(acceptor)

    async def _restart(self, old: _Acceptor) -> None:
        """Start a replacement, backing off while they die soon after start. After
        `_MAX_QUICK_FAILURES` in a row the pool gives up and calls `on_fatal`: a port that
        takes connections nobody answers is worse than a unit systemd sees failing."""
        quick = time.monotonic() - old.started < _QUICK_DEATH
        failures = self._failures[old.index] + 1 if quick else 0
        while failures < _MAX_QUICK_FAILURES:
            await asyncio.sleep(min(_RESTART_DELAY_MAX, RESTART_DELAY * 2**failures) if failures else 0.0)
            if self._stopping:
                return
            try:
                await self._start_one(old.index)
                self._failures[old.index] = failures
                return
            except OSError as exc:
                log.error("acceptor restart failed", extra=kv(index=old.index, error=str(exc)))
                failures += 1
        self.on_fatal(f"acceptor {old.index} failed {failures} times in a row soon after start")

    async def _spool(self, acceptor: _Acceptor, frame: wire.SpoolRequest) -> None:
        reply: wire.Stored | wire.Refused
        try:
            intake_id = await self.store.spool(
                frame.raw, frame.mail_from, frame.rcpt_tos, frame.peer, self.clock.now()
            )
        except Exception as exc:
            # Not durable: the acceptor answers 4xx (the SpoolError says which) and the sender
            # keeps the message.
            self.incidents.refused_one(exc, frame.peer, len(frame.raw))
            reply = wire.Refused(frame.seq, exc if isinstance(exc, SpoolError) else str(exc))
        else:
            self.incidents.stored_one()
            self.on_spooled(intake_id)
            reply = wire.Stored(frame.seq, intake_id)
        # If the acceptor is gone, its client saw no 250 and sends again (applied once).
        acceptor.link.send(reply)

    async def reload(self, timeout: float = 5.0) -> None:
        """Send the current [smtp] settings and log level to every acceptor and wait until each
        has applied them, so a reload that returned governs the next command everywhere (also
        on connections already open)."""
        loop = asyncio.get_running_loop()
        waits = []
        for acceptor in self.acceptors.values():
            # One that is exiting misses it; its replacement starts with the new settings.
            acceptor.configured = loop.create_future()
            waits.append(acceptor.configured)
            acceptor.link.send(wire.Configure(self.settings(), self.log_level()))
        if waits:
            _, late = await asyncio.wait(waits, timeout=timeout)
            if late:
                log.warning("reload: acceptors did not confirm the new settings", extra=kv(late=len(late)))

    async def stop(self, grace: float) -> None:
        """Stop accepting everywhere; in-flight messages are still spooled and answered."""
        self._stopping = True
        for acceptor in self.acceptors.values():
            acceptor.link.send(wire.Stop(grace))
        waits = [a.process.wait() for a in self.acceptors.values()]
        try:
            await asyncio.wait_for(asyncio.gather(*waits), grace + 5.0)
        except TimeoutError:
            for acceptor in self.acceptors.values():
                if acceptor.process.returncode is None:
                    log.warning("acceptor did not stop in time; killed", extra=kv(index=acceptor.index))
                    acceptor.process.kill()
            await asyncio.gather(*(a.process.wait() for a in self.acceptors.values()))
        spools = [task for a in self.acceptors.values() for task in a.spools]
        await asyncio.gather(*spools, return_exceptions=True)  # the store is still open
        for acceptor in self.acceptors.values():
            if acceptor.follower is not None:
                acceptor.follower.cancel()  # one may be waiting to restart
        followers = [a.follower for a in self.acceptors.values() if a.follower is not None]
        await asyncio.gather(*followers, return_exceptions=True)
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._counts_fd is not None:
            os.close(self._counts_fd)
            self._counts_fd = None


def _bind(host: str, port: int) -> socket.socket:
    family = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(LISTEN_BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock
