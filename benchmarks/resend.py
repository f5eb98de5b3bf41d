"""Resend queue under load: N queued attempts falling due over a short window.

    .venv/bin/python benchmarks/resend.py [--rows 100000] [--window 30] [--sink smtp-sink]

What runs: the real sending side (`SendingSide`: APScheduler alarm, durable queue rows in
SQLite, relay sender) against a fast local next hop in a separate process (Postfix's
`smtp-sink`, or an aiosmtpd sink with `--sink aiosmtpd`). N deliveries are queued with due
times spread evenly over `--window` seconds, starting `--lead` seconds after the daemon
starts. The same N due times are also given, side by side, to the peer this design
replaces: APScheduler holding one in-memory `date` job per row (`--peer` off: skip it).

Reported, honestly separated:
- pick-up lateness: when the worker claimed a row minus when it was due. This is the
  scheduler's part; it grows when the sender cannot keep up, because rows are claimed
  only as sending capacity frees up (claiming early would hold leases for nothing).
- end-to-end lateness: when the relay's 250 was committed minus when the row was due.
- throughput (rows/s) and peak RSS (ru_maxrss) of the process, over its baseline.
The peer only records its own pick-up (it sends nothing), in a separate process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bounced.config import Config  # noqa: E402
from bounced.config.loader import build  # noqa: E402
from bounced.store import open_store  # noqa: E402
from bounced.submission.service import SendingSide  # noqa: E402
from tests.store_helpers import resend_timings  # noqa: E402

ORIGIN = datetime(2030, 1, 1, tzinfo=UTC)  # clock time of the daemon's start

SINK_SCRIPT = """
import asyncio, sys
from aiosmtpd.smtp import SMTP
class Sink:
    async def handle_DATA(self, server, session, envelope):
        return "250 2.0.0 OK"
async def main():
    loop = asyncio.get_running_loop()
    await loop.create_server(lambda: SMTP(Sink(), loop=loop), "127.0.0.1", int(sys.argv[1]))
    await asyncio.Event().wait()
asyncio.run(main())
"""

PEER_SCRIPT = """
import asyncio, json, resource, sys, time
from datetime import datetime, timedelta, UTC
from apscheduler.schedulers.asyncio import AsyncIOScheduler
rows, lead, window = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
async def main():
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    late = []
    done = asyncio.Event()
    def fire(due):
        late.append(time.time() - due)
        if len(late) == rows:
            done.set()
    sched = AsyncIOScheduler(timezone=UTC)
    start = time.time()
    for i in range(rows):
        due = start + lead + window * i / rows
        sched.add_job(fire, "date", run_date=datetime.fromtimestamp(due, UTC), args=[due],
                      misfire_grace_time=None)
    setup = time.time() - start
    sched.start()
    await asyncio.wait_for(done.wait(), lead + window + 600)
    sched.shutdown(wait=False)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"late": late, "rss_kb": rss, "base_rss_kb": base_rss, "setup_s": setup}))
asyncio.run(main())
"""


class OffsetClock:
    """Real-speed time that reads ORIGIN at the moment `start()` is called."""

    def __init__(self) -> None:
        self._t0 = time.monotonic()

    def start(self) -> None:
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        return ORIGIN + timedelta(seconds=time.monotonic() - self._t0)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_sink(kind: str, port: int) -> subprocess.Popen[bytes]:
    if kind == "smtp-sink":
        exe = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
        return subprocess.Popen([exe, "-u", "nobody", "-m", "1000", f"127.0.0.1:{port}", "1024"])
    return subprocess.Popen([sys.executable, "-c", SINK_SCRIPT, str(port)])


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"sink did not start on port {port}")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(name: str, values: list[float]) -> str:
    return (
        f"{name:<28} p50 {statistics.median(values) * 1000:9.1f} ms   p99 {pct(values, 0.99) * 1000:9.1f} ms"
        f"   max {max(values) * 1000:9.1f} ms"
    )


async def run_ours(args: argparse.Namespace, sink_port: int, db: Path) -> dict[str, object]:
    config = build(
        Config,
        {
            "storage": {"path": str(db)},
            "submission": {"enabled": True, "listen": f"127.0.0.1:{free_port()}"},
            "relay": {"host": "127.0.0.1", "port": sink_port, "max_connections": args.concurrency},
            "verp": {"domain": "bounces.example.net", "secret": "bench"},
            "resend": {"concurrency": args.concurrency, "batch_size": args.batch, "poll_interval": 1.0},
        },
    )
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    store = await open_store(config.storage)
    raw = (
        b"From: news@shop.example\r\nTo: list@dest.example\r\nSubject: benchmark\r\n"
        b"Message-ID: <bench@shop.example>\r\nX-Mailing-ID: bench\r\n\r\n" + b"x" * 70 + b"\r\n"
    ) * 20
    setup_start = time.monotonic()
    chunk = 1000
    for start in range(0, args.rows, chunk):
        ids = range(start, min(start + chunk, args.rows))
        recipients = [(f"user{i}@dest{i % 50}.example", None) for i in ids]
        due = [ORIGIN + timedelta(seconds=args.lead + args.window * i / args.rows) for i in ids]
        await store.record_outbound(raw, "bench@shop.example", recipients, ORIGIN, due_at=due)
    setup = time.monotonic() - setup_start
    clock = OffsetClock()
    clock.start()
    side = await SendingSide.start(config, store, clock)
    t_start = time.monotonic()
    try:
        while True:
            counts = await store.queue_counts()
            if counts["done"] + counts["cancelled"] >= args.rows:
                break
            if time.monotonic() - t_start > args.lead + args.window + args.timeout:
                print(f"timeout: {counts}", file=sys.stderr)
                break
            await asyncio.sleep(0.5)
        elapsed = time.monotonic() - t_start
    finally:
        await side.stop()
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # before loading the timings
    timings = await resend_timings(store)
    await store.close()
    pickup = [(t.started_at - t.due_at).total_seconds() for t in timings]
    e2e = [(t.finished_at - t.due_at).total_seconds() for t in timings]
    first_due, last_done = args.lead, max((t.finished_at - ORIGIN).total_seconds() for t in timings)
    return {
        "pickup": pickup,
        "e2e": e2e,
        "done": len(timings),
        "elapsed": elapsed,
        "throughput": len(timings) / max(last_done - first_due, 1e-9),
        "rss_kb": peak_rss,
        "base_rss_kb": base_rss,
        "setup_s": setup,
    }


def run_peer(args: argparse.Namespace) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", PEER_SCRIPT, str(args.rows), str(args.lead), str(args.window)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--window", type=float, default=30.0, help="seconds over which rows fall due")
    parser.add_argument("--lead", type=float, default=2.0, help="seconds from start to the first due row")
    parser.add_argument("--sink", choices=["smtp-sink", "aiosmtpd"], default="smtp-sink")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds after the window to give up")
    parser.add_argument("--no-peer", dest="peer", action="store_false")
    args = parser.parse_args()

    port = free_port()
    sink = start_sink(args.sink, port)
    try:
        wait_port(port)
        with tempfile.TemporaryDirectory() as tmp:
            ours = asyncio.run(run_ours(args, port, Path(tmp) / "bench.sqlite3"))
    finally:
        sink.terminate()
        sink.wait()
    peer = run_peer(args) if args.peer else None

    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(
        f"rows {args.rows}, due evenly over {args.window:.0f} s ({args.rows / args.window:.0f}/s),", end=" "
    )
    print(f"sink {args.sink}, concurrency {args.concurrency}, batch {args.batch}")
    pickup, e2e = list(ours["pickup"]), list(ours["e2e"])  # type: ignore[call-overload]
    our_mem = (int(ours["rss_kb"]) - int(ours["base_rss_kb"])) / 1024  # type: ignore[call-overload]
    print(
        f"bounced queue: {ours['done']} sent, setup {ours['setup_s']:.1f} s,"
        f" throughput {ours['throughput']:.0f}/s"
    )
    print(summary("  pick-up lateness", pickup))
    print(summary("  end-to-end lateness", e2e))
    print(f"  peak RSS {int(ours['rss_kb']) / 1024:.0f} MiB ({our_mem:+.0f} MiB over baseline)")  # type: ignore[call-overload]
    if peer is not None:
        late = list(peer["late"])
        peer_mem = (int(peer["rss_kb"]) - int(peer["base_rss_kb"])) / 1024
        print("peer: APScheduler with one in-memory date job per row (pick-up only, sends nothing)")
        print(summary("  pick-up lateness", late))
        print(f"  peak RSS {int(peer['rss_kb']) / 1024:.0f} MiB ({peer_mem:+.0f} MiB over baseline)")
        p50 = statistics.median(pickup) / max(statistics.median(late), 1e-6)
        mem = our_mem / peer_mem if peer_mem > 0 else float("nan")
        print(f"ratios bounced/peer: pick-up p50 {p50:.2f}, memory over baseline {mem:.2f}")
    return 0


if __name__ == "__main__":
    import _figures  # --figures: the output becomes docs/figures.md's latest run

    raise SystemExit(_figures.run(main, "resend"))
