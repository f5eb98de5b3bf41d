"""The real RabbitMQ on 127.0.0.1:5672 for tests: a uniquely named exchange and queue per test
(deleted after), a consumer that records every message, and a TCP proxy the test can cut.

Other engineers use the same server at the same time: nothing here touches anything but the
test's own exchange and queue, and the server is never stopped (an outage is the proxy's),
except by test_rabbitmq_restart, which restarts the RabbitMQ application on purpose: every
test on the broker holds a shared lock on a file for its whole run, the restart test an
exclusive one, so under pytest-xdist (or in a second run on the machine) no test meets the
broker stopped (it would skip, or fail) and the restart waits for the others to end.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractIncomingMessage

from tests.conftest import free_port
from tests.xdist_worker import worker_id

__all__ = [
    "BROKER_LOCK",
    "RABBIT_HOST",
    "RABBIT_PORT",
    "Consumed",
    "RabbitQueue",
    "TcpProxy",
    "broker_lock",
    "rabbit_queue",
    "rabbit_url",
]

RABBIT_HOST, RABBIT_PORT = "127.0.0.1", 5672
# One broker per machine, so one lock per machine (not per run or per worker).
BROKER_LOCK = Path(tempfile.gettempdir()) / "bounced-tests-rabbitmq.lock"


def rabbit_url(port: int = RABBIT_PORT, password: str = "guest", vhost: str = "") -> str:
    return f"amqp://guest:{password}@{RABBIT_HOST}:{port}/{vhost}"


@dataclass(frozen=True)
class Consumed:
    routing_key: str
    body: bytes
    message_id: str | None
    type: str | None
    headers: dict[str, Any]
    content_type: str | None
    delivery_mode: int | None
    redelivered: bool

    @property
    def event(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.body)
        return value


class RabbitQueue:
    """A test's exchange (durable topic, as bounced declares it) with one queue bound to `#`."""

    def __init__(self, exchange: str, queue: str) -> None:
        self.exchange = exchange
        self.queue = queue
        self.received: list[Consumed] = []

    def _on_message(self, message: AbstractIncomingMessage) -> None:
        self.received.append(
            Consumed(
                routing_key=message.routing_key or "",
                body=message.body,
                message_id=message.message_id,
                type=message.type,
                headers=dict(message.headers),
                content_type=message.content_type,
                delivery_mode=int(message.delivery_mode) if message.delivery_mode is not None else None,
                redelivered=bool(message.redelivered),
            )
        )

    def ids(self) -> set[int]:
        return {int(m.event["id"]) for m in self.received}

    async def wait_for_ids(self, expected: set[int], timeout: float = 30.0) -> None:
        """Until every id in `expected` was consumed (polls a list, no fixed sleep)."""
        async with asyncio.timeout(timeout):
            while not expected <= self.ids():
                await asyncio.sleep(0.02)


@asynccontextmanager
async def broker_lock(exclusive: bool) -> AsyncIterator[None]:
    """Shared: the broker stays up meanwhile; exclusive: no other test uses it meanwhile."""
    fd = os.open(BROKER_LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    try:  # in a thread: waiting must not stop the test's loop
        await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # releases the lock


@asynccontextmanager
async def rabbit_queue(robust: bool = False, restarts: bool = False) -> AsyncIterator[RabbitQueue]:
    """Skips the test when no RabbitMQ answers on 127.0.0.1:5672 with guest/guest. `robust`: the
    consumer reconnects (and consumes again) after the broker restarts, and acks each message
    once recorded, so one cut off in flight is redelivered rather than lost. `restarts`: the
    test restarts the broker, so it waits until no other test uses it (BROKER_LOCK)."""
    async with broker_lock(exclusive=restarts), _rabbit_queue(robust) as found:
        yield found


@asynccontextmanager
async def _rabbit_queue(robust: bool) -> AsyncIterator[RabbitQueue]:
    connect = aio_pika.connect_robust if robust else aio_pika.connect
    try:
        connection = await connect(rabbit_url(), timeout=5)
    except Exception as exc:  # any failure to reach it means: no broker here
        pytest.skip(f"RabbitMQ not reachable at {RABBIT_HOST}:{RABBIT_PORT} as guest/guest: {exc}")
    suffix = f"{worker_id()}-{uuid.uuid4().hex[:12]}"
    found = RabbitQueue(f"bounced-test-{suffix}", f"bounced-test-{suffix}")
    try:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(found.exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(found.queue, durable=True)
        await queue.bind(exchange, "#")

        async def on_message(message: AbstractIncomingMessage) -> None:
            found._on_message(message)
            if robust:
                with contextlib.suppress(Exception):  # channel gone: the broker redelivers it
                    await message.ack()

        tag = await queue.consume(on_message, no_ack=not robust)
        try:
            yield found
        finally:
            await queue.cancel(tag)
            await queue.delete(if_unused=False, if_empty=False)
            await exchange.delete()
    finally:
        await connection.close()


class TcpProxy:
    """Forwards 127.0.0.1:<port> to RabbitMQ. `cut()` resets every open connection and stops
    listening (new ones are refused); `restore()` listens again on the same port."""

    def __init__(self, target_port: int = RABBIT_PORT) -> None:
        self.port = free_port()
        self.target_port = target_port
        self.accepted = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return rabbit_url(self.port)

    async def restore(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()  # RST, no goodbye: as a dead network or broker looks
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(RABBIT_HOST, self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(src, dst))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        dst.close()  # one side ended: end the other
        self._writers.discard(dst)
