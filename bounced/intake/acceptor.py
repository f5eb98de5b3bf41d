"""An acceptor process: SMTP sessions on the daemon's listening socket; each message is handed
to the daemon, which commits it, and the client gets 250 only once that commit is on disk.

Started by `bounced.intake.acceptor_pool.AcceptorPool` as
`python -m bounced.intake.acceptor LISTEN_FD LINK_FD COUNTS_FD INDEX`; the first frame on
the link is its config. COUNTS_FD is the connection table all acceptors share
(`bounced.intake.limits`), INDEX its row in it. Sessions are where an MX spends its CPU
(aiosmtpd is Python), so several of these use several cores while one process keeps the
single SQLite writer and its grouped commits. It stops when told to, on SIGTERM/SIGINT
(systemd signals the whole cgroup), and when the link closes (the daemon is gone: nothing
could be made durable any more, so no session may go on).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import signal
import socket
import sys
from collections.abc import Sequence
from datetime import datetime

from bounced.clock import SystemClock
from bounced.config.smtp import SmtpConfig
from bounced.errors import ConfigError, SpoolError
from bounced.eventloop import loop_factory
from bounced.intake import link as wire  # the messages and framing of the link
from bounced.intake.incidents import SpoolIncidents
from bounced.intake.limits import SharedCounts
from bounced.intake.listener import BounceHandler, Listener
from bounced.logfmt import configure_logging, kv, set_level

__all__ = ["RemoteSpool", "main", "run_acceptor"]

log = logging.getLogger("bounced.intake.acceptor")

_REPLIES_EVERY = 0.5  # seconds between two reports of reply counts to the daemon (/metrics)


class RemoteSpool:
    """`spool()` over the link: the daemon stamps, commits and answers with the intake id."""

    def __init__(self, link: wire.FrameWriter) -> None:
        self._link = link
        self._seq = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[int]] = {}
        self._closed_why: str | None = None

    async def spool(
        self, raw: bytes, mail_from: str, rcpt_tos: Sequence[str], peer: str, received_at: datetime
    ) -> int:
        if self._closed_why is not None:
            raise SpoolError(f"message from {mail_from!r} not spooled: {self._closed_why}")
        seq = next(self._seq)
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting[seq] = future
        try:
            self._link.send(wire.SpoolRequest(seq, mail_from, tuple(rcpt_tos), peer, raw))
            await self._link.drain()
            return await future
        except (ConnectionError, RuntimeError) as exc:
            raise SpoolError(f"message from {mail_from!r} not spooled: daemon link: {exc}") from None
        finally:
            self._waiting.pop(seq, None)

    def answer(self, answer: wire.Stored | wire.Refused) -> None:
        future = self._waiting.get(answer.seq)
        if future is None or future.done():
            return
        if isinstance(answer, wire.Stored):
            future.set_result(answer.intake_id)
        elif isinstance(answer.why, SpoolError):  # the daemon's own: SpoolFullError gets 452
            future.set_exception(answer.why)
        else:
            future.set_exception(SpoolError(f"not spooled: {answer.why}"))

    def close(self, why: str) -> None:
        """Every waiting session gets its 4xx; the client keeps the message and retries."""
        self._closed_why = why
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(SpoolError(f"not spooled: {why}"))


async def run_acceptor(listen_fd: int, link_fd: int, counts_fd: int, index: int) -> int:
    link_sock = socket.socket(fileno=link_fd)
    reader, stream_writer = await asyncio.open_unix_connection(sock=link_sock)
    link = wire.FrameWriter(stream_writer)
    first = await wire.read_frame(reader)
    if not isinstance(first, wire.Configure):
        raise wire.LinkClosed(f"expected the config first, got {type(first).__name__}")
    config: SmtpConfig = first.settings
    configure_logging(first.log_level)
    spool = RemoteSpool(link)
    # The daemon logs each spool incident once; here a refusal is only a debug line.
    incidents = SpoolIncidents(level=logging.DEBUG)
    handler = BounceHandler(spool, SystemClock(), lambda: config, lambda _id: None, incidents)
    listener = Listener(handler, lambda: config, SharedCounts(counts_fd, index))
    await listener.start(sock=socket.socket(fileno=listen_fd))
    link.send(wire.Ready())

    stop = asyncio.Event()
    grace = config.shutdown_grace
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # reloads come from the daemon, as frames

    async def follow_link() -> None:
        nonlocal config, grace
        try:
            while True:
                frame = await wire.read_frame(reader)
                if isinstance(frame, wire.Stored | wire.Refused):
                    spool.answer(frame)
                elif isinstance(frame, wire.Configure):
                    config = frame.settings  # every later command reads it (the handler's settings)
                    set_level(frame.log_level)
                    link.send(wire.Configured())  # the daemon's reload returns after this
                elif isinstance(frame, wire.Stop):
                    grace = frame.grace
                    stop.set()
        except wire.LinkClosed as exc:
            spool.close(f"daemon link closed ({exc})")
            if not stop.is_set():
                log.error("daemon gone: acceptor stopping", extra=kv(error=str(exc)))
            stop.set()

    async def report_replies() -> None:
        while True:
            await asyncio.sleep(_REPLIES_EVERY)
            send_replies()

    def send_replies() -> None:
        new = listener.replies.take_new()
        if new:
            link.send(wire.Replies(new))

    follower = asyncio.create_task(follow_link())
    reporter = asyncio.create_task(report_replies())
    await stop.wait()
    await listener.stop(grace)  # in-flight spools still get their answer over the link
    reporter.cancel()
    try:
        send_replies()
        link.send(wire.Stopped())
        await link.drain()
    except (ConnectionError, RuntimeError):
        pass
    follower.cancel()
    link.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 4 or not all(a.isdigit() for a in args):
        print("usage: python -m bounced.intake.acceptor LISTEN_FD LINK_FD COUNTS_FD INDEX"
              " (started by bounced serve)", file=sys.stderr)  # fmt: skip
        return 2
    try:
        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            return runner.run(run_acceptor(*map(int, args)))
    except wire.LinkClosed as exc:
        print(f"bounced acceptor: daemon link closed before start: {exc}", file=sys.stderr)
        return 1
    except (ConfigError, OSError) as exc:  # e.g. the certificate went away since the daemon started
        print(f"bounced acceptor: cannot start: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
