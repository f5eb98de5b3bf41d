"""The outbox's two sinks side by side: RabbitMQ with publisher confirms and HTTP webhooks.

    .venv/bin/python benchmarks/broker.py [--rate 250] [--seconds 10] [--drain 5000] [--repeat 1]
        [--url amqp://guest:guest@127.0.0.1:5672/]

What runs, for each sink in turn (alternated when --repeat > 1, a fresh SQLite store each
time): the real store with the outbox on, the real dispatcher with that one sink, and its
peer in a process of its own: for HTTP the receiver of benchmarks/webhooks.py (stdlib
ThreadingHTTPServer on loopback), for RabbitMQ an aio-pika consumer of a queue bound to the
run's own exchange on the local server (exchange and queue deleted after).

- steady: `--rate` hard bounces a second for `--seconds` (2 events each: hard_bounce,
  suppression_added), recorded by `store.record_batch` every 0.1 s, the dispatcher woken
  after each commit as the processor does; reported, p50 / p99: commit -> taken (the
  broker's confirm, the receiver's 2xx: when the sink's `deliver` returns) and commit ->
  arrival at the peer; and the benchmark process's CPU per event (recording included).
- drain: `--drain` hard bounces committed at once, then the dispatcher woken: events per
  second until every one is delivered (for RabbitMQ: confirmed by the broker).

Each sink as shipped: HTTP with [webhook_delivery] concurrency 16 (16 POSTs in flight, 64
per pass), RabbitMQ with max_unconfirmed 256 (256 published per batch, then their confirms
awaited). Ends with the medians per sink and the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import aio_pika  # noqa: E402

from benchmarks.webhooks import SECRET, ReceiverProcess, bounce, feed, percentile  # noqa: E402
from bounced.clock import SystemClock  # noqa: E402
from bounced.config import BrokerConfig, StorageConfig, WebhookConfig, WebhookDeliveryConfig  # noqa: E402
from bounced.model import WebhookDelivery, WebhookState  # noqa: E402
from bounced.store import open_store  # noqa: E402
from bounced.store.base import IntakeRecording  # noqa: E402
from bounced.webhooks.dispatcher import WebhookDispatcher  # noqa: E402
from bounced.webhooks.poster import Poster  # noqa: E402
from bounced.webhooks.rabbitmq import RabbitMQSink  # noqa: E402
from bounced.webhooks.sink import HttpSink, Sink  # noqa: E402
from tests.conftest import free_port  # noqa: E402

SINKS = ("http", "rabbitmq")
FIELDS = ("taken50", "taken99", "p50", "p99", "cpu_ms", "drain")


@dataclass
class Result:
    sink: str
    load: float
    rate: float  # events/s offered in the steady phase
    taken50: float  # commit -> confirm / 2xx, seconds
    taken99: float
    p50: float  # commit -> arrival at the peer
    p99: float
    max: float
    cpu_ms: float  # per event, steady phase
    drain: float  # events/s delivered from a full outbox


class TimedSink:
    """The sink under test, noting when each event was taken (confirm, 2xx) after its commit."""

    def __init__(self, inner: Sink) -> None:
        self.inner = inner
        self.key, self.events, self.window = inner.key, inner.events, inner.window
        self.taken: dict[int, float] = {}  # event id -> seconds from its commit

    async def deliver(self, batch: Sequence[WebhookDelivery]) -> list[str | None]:
        results = await self.inner.deliver(batch)
        now = time.time()
        for delivery, error in zip(batch, results, strict=True):
            if error is None:
                self.taken.setdefault(delivery.event.id, now - delivery.event.at.timestamp())
        return results

    async def close(self) -> None:
        await self.inner.close()


def serve_consumer(url: str, queue: str, ready: str, out: str) -> None:
    """`--serve-consumer`: consume `queue` in a process of its own (sharing the GIL with the
    dispatcher would measure the GIL); on SIGTERM write {event id: [arrival, event time]}."""
    import uvloop

    arrivals: dict[int, list[float]] = {}

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        connection = await aio_pika.connect(url)
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=1000)
        q = await channel.get_queue(queue)

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            now = time.time()
            event = json.loads(message.body)
            at = datetime.fromisoformat(event["time"].replace("Z", "+00:00")).timestamp()
            arrivals.setdefault(int(event["id"]), [now, at])

        await q.consume(on_message, no_ack=True)
        Path(ready).write_text("ready")
        await stop.wait()
        await connection.close()

    uvloop.run(main())
    Path(out).write_text(json.dumps(arrivals))


class ConsumerProcess:
    """The run's exchange and queue (declared here, deleted by `stop`) and their consumer."""

    def __init__(self, url: str, tmp: str) -> None:
        self.url, self.tmp = url, tmp
        suffix = uuid.uuid4().hex[:12]
        self.exchange, self.queue = f"bounced-bench-{suffix}", f"bounced-bench-{suffix}"
        self.arrivals: dict[int, tuple[float, float]] = {}
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        connection = await aio_pika.connect(self.url)
        channel = await connection.channel()
        exchange = await channel.declare_exchange(self.exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(self.queue, durable=True)
        await queue.bind(exchange, "#")
        await connection.close()
        ready = Path(self.tmp) / f"{self.queue}.ready"
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve-consumer", self.url, self.queue, str(ready),
             f"{self.tmp}/{self.queue}.json"],
            cwd=REPO,
        )  # fmt: skip
        async with asyncio.timeout(30):
            while not ready.exists():
                await asyncio.sleep(0.05)

    async def stop(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        await asyncio.to_thread(self.proc.wait)
        data = json.loads(Path(f"{self.tmp}/{self.queue}.json").read_text())
        self.arrivals = {int(k): (v[0], v[1]) for k, v in data.items()}
        connection = await aio_pika.connect(self.url)
        channel = await connection.channel()
        await channel.queue_delete(self.queue)
        await channel.exchange_delete(self.exchange)
        await connection.close()


async def until_delivered(dispatcher: WebhookDispatcher, expected: int) -> None:
    """Until `expected` were taken by the peer and their outcome is recorded (the counter
    moves just before the batch's commit)."""
    while dispatcher.stats.delivered < expected or (await dispatcher.store.webhook_backlog()).pending:
        await asyncio.sleep(0.01)


async def run(sink_name: str, args: argparse.Namespace, tmp: str) -> Result:
    clock = SystemClock()
    store = await open_store(StorageConfig(path=str(Path(tmp) / f"bench-{uuid.uuid4().hex}.sqlite3")))
    store.enable_webhook_outbox(True)
    delivery = WebhookDeliveryConfig(poll_interval=3600.0, concurrency=16)
    peer: Any
    sink: Sink
    if sink_name == "http":
        peer = ReceiverProcess(free_port(), tmp)
        peer.start()
        hook = WebhookConfig(url=f"http://127.0.0.1:{peer.port}/hooks", secret=SECRET, timeout=5.0)
        sink = HttpSink(hook, Poster(delivery.concurrency), delivery.concurrency, clock)
    else:
        peer = ConsumerProcess(args.url, tmp)
        await peer.start()
        sink = RabbitMQSink(BrokerConfig(name="rabbit", url=args.url, exchange=peer.exchange, timeout=10.0))
    timed = TimedSink(sink)
    dispatcher = WebhookDispatcher(store, [timed], delivery, clock)
    await dispatcher.start()

    load = os.getloadavg()[0]
    cpu0, started = time.process_time(), time.time()
    n = await feed(store, dispatcher, args.rate, args.seconds, 0)
    fed = time.time() - started
    await until_delivered(dispatcher, 2 * n)
    cpu = time.process_time() - cpu0

    now = clock.now()  # drain: a full outbox, then one wake
    events = tuple(bounce(n + i, now) for i in range(args.drain))
    await store.record_batch([IntakeRecording(None, events)], now)
    t0 = time.perf_counter()
    dispatcher.wake()
    await until_delivered(dispatcher, 2 * (n + args.drain))
    drain = 2 * args.drain / (time.perf_counter() - t0)
    await dispatcher.stop()
    pending = await store.list_webhook_deliveries(state=WebhookState.PENDING)
    await store.close()
    if sink_name == "http":
        peer.stop()
    else:
        await peer.stop()

    steady_ids = set(range(1, 2 * n + 1))
    lat = sorted(arrival - at for i, (arrival, at) in peer.arrivals.items() if i in steady_ids)
    taken = sorted(t for i, t in timed.taken.items() if i in steady_ids)
    missing = 2 * (n + args.drain) - len(peer.arrivals)
    result = Result(
        sink_name, load, 2 * n / fed, percentile(taken, 50), percentile(taken, 99),
        percentile(lat, 50), percentile(lat, 99), lat[-1], cpu / (2 * n) * 1000, drain,
    )  # fmt: skip
    print(
        f"{sink_name}: load {load:.1f}; steady {2 * n} events at {result.rate:.0f} events/s:"
        f" commit -> taken p50 {result.taken50 * 1000:.1f} ms, p99 {result.taken99 * 1000:.1f} ms;"
        f" commit -> arrival p50 {result.p50 * 1000:.1f} ms, p99 {result.p99 * 1000:.1f} ms,"
        f" max {result.max * 1000:.0f} ms; CPU {result.cpu_ms:.2f} ms per event;"
        f" drain of {2 * args.drain} events: {drain:.0f} events/s delivered;"
        f" ids missing at the peer: {missing}; pending left: {len(pending)}",
        flush=True,
    )
    return result


async def main() -> None:
    import logging

    logging.basicConfig(level=logging.ERROR)
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=int, default=250, help="hard bounces per second (2 events each)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--drain", type=int, default=5000, help="hard bounces committed at once (2 events each)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per sink (medians)")
    parser.add_argument("--url", default="amqp://guest:guest@127.0.0.1:5672/")
    args = parser.parse_args()
    try:
        connection = await aio_pika.connect(args.url, timeout=5)
        await connection.close()
    except Exception as exc:  # no broker: nothing to compare
        sys.exit(f"RabbitMQ not reachable at {args.url.rpartition('@')[2]}: {exc}")
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
    results: dict[str, list[Result]] = {s: [] for s in SINKS}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):
            for sink in SINKS:  # alternated, so both see the same load on average
                results[sink].append(await run(sink, args, tmp))
    med = {
        sink: {f: statistics.median(getattr(r, f) for r in runs) for f in FIELDS}
        for sink, runs in results.items()
    }
    for sink, m in med.items():
        print(
            f"median of {args.repeat} ({sink}): commit -> taken p50 {m['taken50'] * 1000:.1f} ms,"
            f" p99 {m['taken99'] * 1000:.1f} ms; commit -> arrival p50 {m['p50'] * 1000:.1f} ms,"
            f" p99 {m['p99'] * 1000:.1f} ms; CPU {m['cpu_ms']:.2f} ms per event;"
            f" drain {m['drain']:.0f} events/s",
            flush=True,
        )
    r, h = med["rabbitmq"], med["http"]
    print(
        "rabbitmq / http: " + ", ".join(f"{f} {r[f] / h[f]:.2f}x" for f in FIELDS),
        flush=True,
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve-consumer"]:
        serve_consumer(*sys.argv[2:6])
    else:
        import uvloop  # the loop `bounced serve` runs on

        uvloop.run(main())
