"""A TCP proxy a test puts between the daemon and the real PostgreSQL server, to cut the
connection (an outage as the daemon sees it) without touching the shared server.

    proxy, dsn = await TcpProxy.before(pg_dsn)  # the daemon's dsn goes through the proxy
    await proxy.cut()      # every open connection reset, new ones refused
    await proxy.restore()  # listening again on the same port
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from urllib.parse import urlsplit, urlunsplit

__all__ = ["TcpProxy", "dsn_via"]

_CHUNK = 64 * 1024


def dsn_via(dsn: str, port: int, host: str = "127.0.0.1") -> str:
    """`dsn` with its host and port replaced by the proxy's."""
    parts = urlsplit(dsn)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{host}:{port}" if userinfo else f"{host}:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


class TcpProxy:
    def __init__(self, target_host: str, target_port: int, port: int) -> None:
        self.target = (target_host, target_port)
        self.port = port
        self.connections = 0  # accepted in all (a reconnect after a cut shows here)
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @classmethod
    async def start(cls, target_host: str, target_port: int) -> TcpProxy:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        proxy = cls(target_host, target_port, port)
        await proxy.restore()
        return proxy

    @classmethod
    async def before(cls, dsn: str) -> tuple[TcpProxy, str]:
        """A proxy to the server of `dsn`, and `dsn` through it."""
        host, _, port = urlsplit(dsn).netloc.rpartition("@")[2].partition(":")
        proxy = await cls.start(host or "127.0.0.1", int(port or 5432))
        return proxy, dsn_via(dsn, proxy.port)

    @property
    def up(self) -> bool:
        return self._server is not None

    async def restore(self) -> None:
        """Listen (again) on the same port."""
        if self._server is None:
            self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)

    async def cut(self) -> None:
        """Stop listening (connects are refused) and reset every open connection."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            _reset(writer)
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def close(self) -> None:
        await self.cut()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            _reset(writer)
            return
        self._writers.update((writer, up_writer))
        pipes = [
            asyncio.create_task(self._pipe(reader, up_writer)),
            asyncio.create_task(self._pipe(up_reader, writer)),
        ]
        self._pipes.update(pipes)
        try:
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in pipes:
                task.cancel()
                self._pipes.discard(task)
            for w in (writer, up_writer):
                self._writers.discard(w)
                w.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(_CHUNK):
                writer.write(data)
                await writer.drain()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST (SO_LINGER 0), as a dead server or a cut link looks to the client."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.close()
