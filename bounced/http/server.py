"""uvicorn inside `bounced serve`: on the daemon's event loop, on a socket the daemon binds
(a port in use is an OSError at start, like the SMTP listener's), without uvicorn's own signal
handling (the daemon's SIGTERM/SIGHUP handlers stay in charge)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

import uvicorn

from bounced.http.app import build_app
from bounced.http.context import ApiContext
from bounced.logfmt import kv

__all__ = ["HttpServer"]

log = logging.getLogger(__name__)


class HttpServer:
    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx
        self._server: uvicorn.Server | None = None
        self._sock: socket.socket | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        assert self._sock is not None, "http server not started"
        return int(self._sock.getsockname()[1])

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        cfg = self.ctx.settings()
        host, port = cfg.host_port
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(128)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self._sock = sock
        config = uvicorn.Config(
            build_app(self.ctx),
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
            ssl_certfile=cfg.tls_cert,
            ssl_keyfile=cfg.tls_key,
            timeout_graceful_shutdown=5,
        )
        config.load()
        server = uvicorn.Server(config)
        server.lifespan = config.lifespan_class(config)
        await server.startup(sockets=[sock])
        self._server = server
        self._task = asyncio.create_task(server.main_loop())
        scheme = "https" if cfg.tls_cert else "http"
        log.info("http listening", extra=kv(listen=f"{scheme}://{host}:{self.port}"))

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await server.shutdown(sockets=[self._sock] if self._sock else None)
        self._sock = None
