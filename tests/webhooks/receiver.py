"""A real HTTP webhook receiver for tests: stdlib ThreadingHTTPServer on a loopback port.

It records every POST (headers and raw body), answers `status` (503 to play "down"), and can
be stopped and started again on the same port (connection refused in between)."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.conftest import free_port


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.body)
        return value


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.status = 200
        self.received: list[Received] = []
        self.first_arrival: dict[int, float] = {}  # event id -> when it first arrived (benchmarks)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a production receiver would

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                status = receiver.status if len(body) == length else 400  # sender died mid-body
                if status < 300:
                    got = Received({k.lower(): v for k, v in self.headers.items()}, body)
                    with receiver._lock:
                        receiver.received.append(got)
                        receiver.first_arrival.setdefault(got.event["id"], time.time())
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            allow_reuse_address = True
            request_queue_size = 256  # the default listen backlog of 5 drops concurrent connects

            def handle_error(self, request: Any, client_address: Any) -> None:
                # A sender killed mid-request (the SIGKILL tests) resets its connection.
                if not isinstance(sys.exc_info()[1], ConnectionError):
                    super().handle_error(request, client_address)

        self._server = Server(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.event for r in self.received]

    async def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        """Until at least `count` POSTs were accepted (polls a list, no fixed sleep)."""
        async with asyncio.timeout(timeout):
            while True:
                with self._lock:
                    if len(self.received) >= count:
                        return list(self.received)
                await asyncio.sleep(0.02)
