"""Webhooks under load: apply -> POST latency at a steady rate, and a receiver down and back.

    .venv/bin/python benchmarks/webhooks.py [--rate 250] [--seconds 20] [--down 60]
        [--client aiohttp|httpx|both] [--repeat N]

What runs: the real SQLite store with the webhook outbox on, the real dispatcher and
a real HTTP receiver on loopback (stdlib ThreadingHTTPServer, its own threads). Hard
bounces are recorded through `store.record_batch` (the apply transaction: bounce event,
profile, suppression and outbox rows in one commit) in batches every 0.1 s, `--rate` bounce
events per second, each firing `hard_bounce` and `suppression_added` (2 webhook events per
bounce). The dispatcher is woken after each batch, as the processor does.

Reported: apply -> POST latency (receiver's arrival time minus the commit time of the
change, the event's `time`), p50 / p99 / max; then the receiver is stopped for `--down`
seconds while events keep coming, started again, and the time until every event has been
delivered is measured (retries: 1 s doubling up to 8 s). `--client both` alternates the
shipped client (aiohttp) with the one before it (httpx, same dispatcher) and prints the
medians of `--repeat` steady runs of each and their ratios; the outage runs once, last.
The kill -9 at 5,000 bounces is tests/webhooks/test_webhooks_crash.py with
BOUNCED_WEBHOOK_CRASH_BOUNCES=5000.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bounced.clock import SystemClock  # noqa: E402
from bounced.config import StorageConfig, WebhookConfig, WebhookDeliveryConfig  # noqa: E402
from bounced.model import Action, BounceEvent, BounceKind, Reason  # noqa: E402
from bounced.store import open_store  # noqa: E402
from bounced.store.base import IntakeRecording  # noqa: E402
from bounced.webhooks.dispatcher import WebhookDispatcher  # noqa: E402
from bounced.webhooks.payload import EVENT_ID_HEADER, SIGNATURE_HEADER, sign_body  # noqa: E402
from bounced.webhooks.poster import Poster  # noqa: E402
from bounced.webhooks.sink import HttpSink  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.events import keyed  # noqa: E402
from tests.webhooks.receiver import Receiver  # noqa: E402

SECRET = "whsec-0123456789abcdef"


def bounce(n: int, now: datetime) -> BounceEvent:
    return keyed(BounceEvent(
        recipient=f"user{n}@example.org", kind=BounceKind.HARD, reason=Reason.USERUNKNOWN, received_at=now,
        action=Action.FAILED, status="5.1.1", reply_code=550, diagnostic="550 5.1.1 User unknown",
        signed=True, suppress=True, source="mail",
    ))  # fmt: skip


async def feed(store: object, dispatcher: WebhookDispatcher, rate: int, seconds: float, start_n: int) -> int:
    """Record `rate` hard bounces a second for `seconds`, every 0.1 s what is due by then (a
    slow tick is made up by the next), waking the dispatcher after each commit."""
    clock = SystemClock()
    n = start_n
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    while (elapsed := loop.time() - t0) < seconds:
        due = start_n + int(rate * elapsed) + 1 - n
        if due > 0:
            now = clock.now()
            events = tuple(bounce(n + i, now) for i in range(due))
            await store.record_batch([IntakeRecording(None, events)], now)  # type: ignore[attr-defined]
            n += due
            dispatcher.wake()
        await asyncio.sleep(0.1)
    return n


def serve_receiver(port: int, out: str) -> None:
    """`--serve-receiver`: the receiver in its own process (sharing the GIL with the dispatcher
    would measure the GIL); on SIGTERM it writes {event id: first arrival, time: event time}."""
    import json
    import signal
    import threading

    receiver = Receiver()
    receiver.port = port
    receiver.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    while not stop.wait(0.2):  # a timed wait lets the main thread run the signal handler
        pass
    receiver.stop()
    with receiver._lock:
        times = receiver_event_times(receiver)
        data = {str(k): [v, times[k]] for k, v in receiver.first_arrival.items()}
    Path(out).write_text(json.dumps(data))


def receiver_event_times(receiver: Receiver) -> dict[int, float]:
    out = {}
    for r in receiver.received:
        event = r.event
        out[event["id"]] = datetime.fromisoformat(event["time"].replace("Z", "+00:00")).timestamp()
    return out


class ReceiverProcess:
    def __init__(self, port: int, tmp: str) -> None:
        self.port, self.tmp, self.runs = port, tmp, 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.arrivals: dict[int, tuple[float, float]] = {}  # id -> (arrival, event time)

    def start(self) -> None:
        self.runs += 1
        out = f"{self.tmp}/arrivals.{self.runs}.json"
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve-receiver", str(self.port), out], cwd=REPO
        )
        deadline = time.time() + 30
        while time.time() < deadline:  # until it accepts connections
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("receiver did not start")

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait()
        import json

        for k, v in json.loads(Path(f"{self.tmp}/arrivals.{self.runs}.json").read_text()).items():
            self.arrivals.setdefault(int(k), (v[0], v[1]))


async def until_delivered(dispatcher: WebhookDispatcher, expected: int) -> None:
    while dispatcher.stats.delivered < expected:
        await asyncio.sleep(0.1)


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


class HttpxPoster(Poster):
    """The client before aiohttp (httpx with TCP_NODELAY, one pool), for `--client httpx`."""

    def __init__(self, concurrency: int) -> None:
        import httpx

        super().__init__(concurrency)
        self._httpx = httpx
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            transport=httpx.AsyncHTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )

    async def post(self, hook: WebhookConfig, event_id: int, body: bytes, timestamp: int) -> str | None:
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign_body(hook.secret, timestamp, body),
            EVENT_ID_HEADER: str(event_id),
            "User-Agent": "bounced-webhooks/1",
        }
        try:
            response = await self._client.post(hook.url, content=body, headers=headers, timeout=hook.timeout)
        except self._httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"[:500]
        return None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"

    async def close(self) -> None:
        await self._client.aclose()


@dataclass
class Steady:
    client: str
    load: float
    events: int
    rate: float  # events/s offered
    p50: float
    p99: float
    max: float
    cpu_ms: float  # per event


async def run(client: str, args: argparse.Namespace, tmp: str, down: float) -> Steady:
    """One fresh store, receiver and dispatcher: the steady phase, then the outage if `down`."""
    receiver = ReceiverProcess(free_port(), tmp)
    receiver.start()
    store = await open_store(StorageConfig(path=str(Path(tmp) / f"bench-{receiver.port}.sqlite3")))
    store.enable_webhook_outbox(True)
    url = f"http://127.0.0.1:{receiver.port}/hooks"
    hook = WebhookConfig(url=url, secret=SECRET, timeout=5.0)
    config = WebhookDeliveryConfig(
        retry_initial=1.0, retry_max_delay=8.0, poll_interval=0.5, concurrency=args.concurrency
    )
    poster = HttpxPoster(args.concurrency) if client == "httpx" else Poster(args.concurrency)
    clock = SystemClock()
    dispatcher = WebhookDispatcher(store, [HttpSink(hook, poster, args.concurrency, clock)], config, clock)
    await dispatcher.start()
    load = os.getloadavg()[0]
    cpu0 = time.process_time()
    started = time.time()
    n = await feed(store, dispatcher, args.rate, args.seconds, 0)
    fed = time.time() - started
    await until_delivered(dispatcher, 2 * n)
    receiver.stop()
    cpu = time.process_time() - cpu0
    lat = sorted(arrival - at for arrival, at in receiver.arrivals.values())
    p50, p99 = percentile(lat, 50), percentile(lat, 99)
    result = Steady(client, load, 2 * n, 2 * n / fed, p50, p99, lat[-1], cpu / (2 * n) * 1000)
    print(
        f"{client}: load {load:.1f}; {n} hard bounces in {fed:.1f} s -> {2 * n} webhook events"
        f" ({result.rate:.0f} events/s), all delivered; apply -> POST p50 {result.p50 * 1000:.0f} ms,"
        f" p99 {result.p99 * 1000:.0f} ms, max {result.max * 1000:.0f} ms; daemon-side CPU"
        f" {result.cpu_ms:.2f} ms per event (one core: ~{1000 / result.cpu_ms:.0f} events/s)",
        flush=True,
    )
    if down > 0:
        stopped = time.time()
        n2 = await feed(store, dispatcher, args.rate, down, n)
        receiver.start()
        back = time.time()
        await until_delivered(dispatcher, 2 * n2)
        done = time.time()
        receiver.stop()
        print(
            f"{client}: receiver down {back - stopped:.0f} s while {n2 - n} more bounces were applied:"
            f" all {2 * n2} events delivered {done - back:.1f} s after it came back;"
            f" failed attempts {dispatcher.stats.failed_attempts},"
            f" dead-lettered {dispatcher.stats.dead_lettered},"
            f" distinct ids received {len(receiver.arrivals)}",
            flush=True,
        )
    await dispatcher.stop()
    await store.close()
    return result


async def main() -> None:
    import logging

    logging.basicConfig(level=logging.ERROR)  # one warning per failed attempt would drown the figures
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--rate", type=int, default=250, help="hard bounces per second (2 webhook events each)"
    )
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--down", type=float, default=60.0, help="receiver down this long (0: skip)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--client", choices=("aiohttp", "httpx", "both"), default="aiohttp",
        help="aiohttp: what bounced ships; httpx: the client before; both: alternate them",
    )  # fmt: skip
    parser.add_argument("--repeat", type=int, default=1, help="steady runs per client (medians)")
    args = parser.parse_args()
    clients = ["httpx", "aiohttp"] if args.client == "both" else [args.client]
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
    results: dict[str, list[Steady]] = {c: [] for c in clients}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            for client in clients:  # alternated, so both see the same load on average
                last = i == args.repeat - 1 and client == clients[-1]
                results[client].append(await run(client, args, tmp, args.down if last else 0.0))
    if args.repeat > 1 or len(clients) > 1:
        med: dict[str, dict[str, float]] = {}
        for client, runs in results.items():
            med[client] = {
                f: statistics.median(getattr(r, f) for r in runs) for f in ("p50", "p99", "max", "cpu_ms")
            }
            m = med[client]
            print(
                f"median of {len(runs)} ({client}): p50 {m['p50'] * 1000:.0f} ms,"
                f" p99 {m['p99'] * 1000:.0f} ms, max {m['max'] * 1000:.0f} ms,"
                f" CPU {m['cpu_ms']:.2f} ms per event",
                flush=True,
            )
        if len(clients) == 2:
            a, h = med["aiohttp"], med["httpx"]
            print(
                f"httpx / aiohttp: p99 {h['p99'] / a['p99']:.1f}x,"
                f" CPU per event {h['cpu_ms'] / a['cpu_ms']:.1f}x",
                flush=True,
            )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve-receiver"]:
        serve_receiver(int(sys.argv[2]), sys.argv[3])
    else:
        import _figures  # --figures: the output becomes docs/figures.md's latest run
        import uvloop  # the loop `bounced serve` runs on

        raise SystemExit(_figures.run(lambda: uvloop.run(main()), "webhooks"))
