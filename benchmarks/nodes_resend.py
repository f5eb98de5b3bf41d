"""Due resends worked by two nodes on one PostgreSQL database: each sent exactly once.

N queue rows fall due at once in the shared database; two real `bounced serve` processes
(submission and the resend queue on, each with its own local spool) claim them (`FOR
UPDATE SKIP LOCKED` with leases) and deliver to a real next hop on loopback: an aiosmtpd
sink in its own process that writes one line per delivered recipient, with the EHLO name
of the node that sent it. Checked: every recipient delivered once (none twice, none
missing), every row done, and how the work split between the nodes. Side by side, the
same rows worked by one node alone (`--peer`, on by default), for the throughput ratio.

Run (full size, 100,000 rows):
    .venv/bin/python benchmarks/nodes_resend.py
    add --quick for 2,000 rows. The CI guard is tests/node/test_nodes_resend.py.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import asyncpg

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]
from nodes_burst import scratch_database  # noqa: E402

from bounced.clock import utcnow  # noqa: E402
from bounced.config.storage import StorageConfig  # noqa: E402
from bounced.store.postgres import PostgresStore  # noqa: E402
from tests.node_daemon import NodeDaemon, free_port  # noqa: E402

__all__ = ["Figures", "run"]

SINK_SCRIPT = """
import asyncio, sys
from aiosmtpd.smtp import SMTP
out = open(sys.argv[2], "a", buffering=1)
class Sink:
    async def handle_DATA(self, server, session, envelope):
        for rcpt in envelope.rcpt_tos:
            out.write(f"{session.host_name} {rcpt}\\n")
        return "250 2.0.0 OK"
async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(Sink(), loop=loop), "127.0.0.1", int(sys.argv[1]))
    print("ready", flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""
RAW = (
    b"From: news@shop.example\r\nTo: list@dest.example\r\nSubject: nodes\r\n"
    b"Message-ID: <nodes@shop.example>\r\nX-Mailing-ID: nodes\r\n\r\n" + b"x" * 70 + b"\r\n"
) * 20


@dataclass
class Figures:
    rows: int = 0
    nodes: int = 0
    delivered: int = 0  # lines the next hop wrote
    doubled: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    by_node: dict[str, int] = field(default_factory=dict)
    queue: dict[str, int] = field(default_factory=dict)  # resend_jobs per state at the end
    setup_seconds: float = 0.0
    seconds: float = 0.0  # from the first claim to the last row done

    @property
    def ok(self) -> bool:
        return not self.doubled and not self.missing and self.queue.get("done") == self.rows

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        return (
            f"{self.nodes} node(s): {self.rows} due rows, {self.delivered} deliveries at the next hop"
            f" (by node {self.by_node}), doubled {len(self.doubled)}, missing {len(self.missing)},"
            f" queue {self.queue}; {self.seconds:.1f} s ({self.rate:.0f}/s), setup {self.setup_seconds:.1f} s"
        )


def recipient(i: int) -> str:
    return f"user{i}@dest{i % 50}.example"


async def queue_rows(dsn: str, rows: int) -> None:
    """`rows` first deliveries, all due now, in the shared database."""
    store = await PostgresStore.open(StorageConfig(backend="postgresql", dsn=dsn, pool_size=2))
    try:
        now = utcnow()
        due = now - timedelta(seconds=1)
        for start in range(0, rows, 1000):
            ids = range(start, min(start + 1000, rows))
            await store.record_outbound(
                RAW, "news@shop.example", [(recipient(i), None) for i in ids], now, due_at=[due] * len(ids)
            )
    finally:
        await store.close()


async def queue_states(dsn: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        found = await conn.fetch("SELECT state, count(*) FROM resend_jobs GROUP BY 1")
        return {r[0]: int(r[1]) for r in found}
    finally:
        await conn.close()


async def busy_seconds(dsn: str) -> float:
    """From the first claim to the last row finished (the nodes' start-up left out)."""
    conn = await asyncpg.connect(dsn)
    try:
        span = await conn.fetchval("SELECT max(finished_at) - min(started_at) FROM resend_jobs")
    finally:
        await conn.close()
    return int(span or 0) / 1e6


async def run(
    workdir: Path,
    dsn: str,
    rows: int = 100_000,
    nodes: int = 2,
    concurrency: int = 20,
    batch: int = 200,
    timeout: float = 1800.0,
) -> Figures:
    figures = Figures(rows=rows, nodes=nodes)
    began = time.monotonic()
    await queue_rows(dsn, rows)
    figures.setup_seconds = time.monotonic() - began
    sink_port, sink_file = free_port(), workdir / "delivered.txt"
    sink = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SINK_SCRIPT, str(sink_port), str(sink_file), stdout=asyncio.subprocess.PIPE
    )
    assert sink.stdout is not None
    await asyncio.wait_for(sink.stdout.readline(), 30)
    daemons = [
        NodeDaemon(
            workdir,
            name,
            dsn,
            extra={
                "submission": {"enabled": True, "listen": f"127.0.0.1:{free_port()}"},
                "relay": {"port": sink_port, "max_connections": concurrency, "helo": name},
                "verp": {"domain": "bounces.example.com", "secret": "nodes-benchmark-secret-0123"},
                "resend": {"concurrency": concurrency, "batch_size": batch, "poll_interval": 0.5},
            },
        )
        for name in "ab"[:nodes]
    ]
    try:
        await asyncio.gather(*(d.start() for d in daemons))
        async with asyncio.timeout(timeout):
            while (states := await queue_states(dsn)).get("done", 0) + states.get("cancelled", 0) < rows:
                await asyncio.sleep(0.5)
        for daemon in daemons:
            if (rc := await daemon.stop()) != 0:
                raise RuntimeError(f"node {daemon.node} stopped with {rc}: see {daemon.log}")
    finally:
        for daemon in daemons:
            if daemon.proc is not None and daemon.proc.returncode is None:
                daemon.kill()
                await daemon.proc.wait()
        sink.terminate()
        await sink.wait()
    figures.queue = await queue_states(dsn)
    figures.seconds = await busy_seconds(dsn)
    lines = [line.split(" ", 1) for line in sink_file.read_text().splitlines()]
    figures.delivered = len(lines)
    figures.by_node = dict(Counter(helo for helo, _ in lines))
    counts = Counter(rcpt for _, rcpt in lines)
    figures.doubled = [f"{rcpt}: {n} deliveries" for rcpt, n in counts.items() if n > 1]
    figures.missing = [recipient(i) for i in range(rows) if recipient(i) not in counts]
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="due rows (default 100,000)")
    parser.add_argument("--quick", action="store_true", help="2,000 rows")
    parser.add_argument("--concurrency", type=int, default=20, help="deliveries at once per node")
    parser.add_argument("--batch", type=int, default=200, help="rows claimed per round trip")
    parser.add_argument("--no-peer", dest="peer", action="store_false", help="skip the one-node run")
    parser.add_argument("--admin-dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    rows = 2000 if args.quick else args.rows

    async def one(nodes: int) -> Figures:
        with tempfile.TemporaryDirectory(prefix="bounced-nodes-resend-") as tmp:
            async with scratch_database(args.admin_dsn) as dsn:
                return await run(Path(tmp), dsn, rows, nodes, args.concurrency, args.batch)

    results = [asyncio.run(one(2))]
    if args.peer:
        results.append(asyncio.run(one(1)))
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    for figures in results:
        print(figures.summary())
        for line in (figures.doubled + figures.missing)[:10]:
            print("  ", line)
    if len(results) == 2:
        two, one_node = results
        print(f"ratio two nodes / one node: throughput {two.rate / max(one_node.rate, 1e-9):.2f}")
        share = list(two.by_node.values())
        if len(share) == 2:
            print(f"split between the two nodes: {min(share) / statistics.mean(share):.2f} of even")
    return 0 if all(f.ok for f in results) else 1


if __name__ == "__main__":
    sys.exit(main())
