"""Webhooks under load: apply -> POST latency at a steady rate, and a receiver down and back.

    .venv/bin/python benchmarks/webhooks.py [--rate 500] [--seconds 20] [--down 60]

What runs: the real SQLite store with the webhook outbox on, the real dispatcher (httpx) and
a real HTTP receiver on loopback (stdlib ThreadingHTTPServer, its own threads). Hard
bounces are recorded through `store.record_batch` (the apply transaction: bounce event,
profile, suppression and outbox rows in one commit) in batches every 0.1 s, `--rate` bounce
events per second, each firing `hard_bounce` and `suppression_added` (2 webhook events per
bounce). The dispatcher is woken after each batch, as the processor does.

Reported: apply -> POST latency (receiver's arrival time minus the commit time of the
change, the event's `time`), p50 / p99 / max; then the receiver is stopped for `--down`
seconds while events keep coming, started again, and the time until every event has been
delivered is measured (retries: 1 s doubling up to 8 s).
The kill -9 at 5,000 bounces is tests/webhooks/test_webhooks_crash.py with
BOUNCED_WEBHOOK_CRASH_BOUNCES=5000.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
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
from tests.webhooks.receiver import Receiver  # noqa: E402

SECRET = "whsec-0123456789abcdef"


def bounce(n: int, now: datetime) -> BounceEvent:
    return BounceEvent(
        recipient=f"user{n}@example.org", kind=BounceKind.HARD, reason=Reason.USERUNKNOWN, received_at=now,
        action=Action.FAILED, status="5.1.1", reply_code=550, diagnostic="550 5.1.1 User unknown",
        signed=True, suppress=True, source="mail",
    )  # fmt: skip


async def feed(store: object, dispatcher: WebhookDispatcher, rate: int, seconds: float, start_n: int) -> int:
    clock = SystemClock()
    per_tick = max(rate // 10, 1)
    n = start_n
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    tick = 0
    while loop.time() - t0 < seconds:
        now = clock.now()
        events = tuple(bounce(n + i, now) for i in range(per_tick))
        await store.record_batch([IntakeRecording(None, events)], now)  # type: ignore[attr-defined]
        n += per_tick
        dispatcher.wake()
        tick += 1
        await asyncio.sleep(max(t0 + tick * 0.1 - loop.time(), 0))
    return n


def latencies(receiver: Receiver, arrivals: dict[int, float]) -> list[float]:
    out = []
    for r in receiver.received:
        event = r.event
        if event["id"] in arrivals:
            at = datetime.fromisoformat(event["time"].replace("Z", "+00:00")).timestamp()
            out.append(arrivals[event["id"]] - at)
    return out


async def main() -> None:
    import logging

    logging.basicConfig(level=logging.ERROR)  # one warning per failed attempt would drown the figures
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--rate", type=int, default=500, help="hard bounces per second (2 webhook events each)"
    )
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--down", type=float, default=60.0, help="receiver down this long (0: skip)")
    args = parser.parse_args()
    receiver = Receiver()
    arrivals = receiver.first_arrival  # event id -> arrival time, taken in the receiver's thread
    receiver.start()
    with tempfile.TemporaryDirectory() as tmp:
        store = await open_store(StorageConfig(path=str(Path(tmp) / "bench.sqlite3")))
        store.enable_webhook_outbox(True)
        hook = WebhookConfig(url=receiver.url, secret=SECRET, timeout=5.0)
        config = WebhookDeliveryConfig(
            retry_initial=1.0, retry_max_delay=8.0, poll_interval=0.5, concurrency=32
        )
        dispatcher = WebhookDispatcher(store, [hook], config, SystemClock())
        await dispatcher.start()
        n = await feed(store, dispatcher, args.rate, args.seconds, 0)
        expected = 2 * n
        while len(arrivals) < expected:
            await asyncio.sleep(0.05)
        lat = sorted(latencies(receiver, arrivals))
        p = statistics.quantiles(lat, n=100)
        print(f"steady: {n} bounces at {args.rate}/s -> {expected} webhook events, all delivered")
        print(
            f"apply -> POST: p50 {p[49] * 1000:.0f} ms, p99 {p[98] * 1000:.0f} ms,"
            f" max {lat[-1] * 1000:.0f} ms"
        )
        if args.down > 0:
            receiver.stop()
            stopped = time.time()
            n2 = await feed(store, dispatcher, args.rate, args.down, n)
            receiver.start()
            back = time.time()
            expected = 2 * n2
            while len(arrivals) < expected:
                await asyncio.sleep(0.05)
            done = time.time()
            print(
                f"receiver down {back - stopped:.0f} s while {n2 - n} more bounces were applied: all "
                f"{expected} events delivered {done - back:.1f} s after it came back; "
                f"failed attempts {dispatcher.stats.failed_attempts},"
                f" dead-lettered {dispatcher.stats.dead_lettered}"
            )
        posts = len(receiver.received)
        print(f"POSTs {posts}, distinct ids {len(arrivals)}, duplicates {posts - len(arrivals)}")
        await dispatcher.stop()
        await store.close()
    receiver.stop()


if __name__ == "__main__":
    asyncio.run(main())
