"""Two nodes on one PostgreSQL database under a burst of distinct bounces, with a node
SIGKILLed mid-burst (`--kill`) and/or the database connection cut mid-burst (`--cut S`).

Two real `bounced serve` processes share one PostgreSQL database (a new one per run, dropped
after), each with its own local intake spool. SMTP clients send N distinct bounces (three
quarters hard, a quarter soft: the soft ones feed the report tables), half to each node; as
an MTA with two MX hosts does, a message that gets no 250 is sent again to the other node.

- `--kill`: once `--kill-at` of the burst is accepted, node a is SIGKILLed; it is started
  again `--down` seconds later and applies what its spool holds.
- `--cut S`: both nodes reach PostgreSQL through a TCP proxy of this process; once
  `--cut-at` of the burst is accepted the proxy resets every connection and refuses new
  ones for S seconds. Intake must keep answering 250 (into the local spools), /readyz must
  say the central store is unreachable, and all must be applied once the proxy is back.

Then the database is checked directly: every address that got a 250 has exactly one event
and one profile count, hard ones are suppressed with one audit entry; no event is doubled;
each report cell equals a direct count of its soft events; the /metrics counters equal the
events; no spool holds a pending message.

Side by side, the same burst into one node on SQLite (today's single host; `--no-peer`).

Run (full size, 10,000 bounces):
    .venv/bin/python benchmarks/nodes_burst.py --kill
    .venv/bin/python benchmarks/nodes_burst.py --cut 30
    add --quick for 1,000 bounces. The CI guards are tests/node/test_nodes_burst.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiosmtplib
import asyncpg

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]
from crash_loop import finish, is_soft, message_for, recipient  # noqa: E402

from tests.node_daemon import NodeDaemon, local_pending  # noqa: E402
from tests.tcp_proxy import TcpProxy  # noqa: E402

__all__ = ["Figures", "check_central", "run"]

RCPT = ["b@bounces.example.com"]
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass
class Figures:
    count: int = 0
    attempts: int = 0
    accepted: dict[int, str] = field(default_factory=dict)  # message number -> node that said 250
    refused: Counter[str] = field(default_factory=Counter)  # 4xx replies by code (sent again)
    failovers: int = 0  # messages sent again to the other node (no 250 from the first)
    kills: int = 0
    cut_seconds: float = 0.0
    ready_during_cut: list[str] = field(default_factory=list)  # /readyz answers seen while cut
    central_up_during_cut: list[float | None] = field(default_factory=list)
    backlog_during_cut: int = 0  # the largest local backlog /readyz reported while cut
    lost: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)
    report_mismatches: list[str] = field(default_factory=list)
    counter_mismatches: list[str] = field(default_factory=list)
    not_applied: int = 0
    events: int = 0
    central_intake: dict[str, int] = field(default_factory=dict)
    burst_seconds: float = 0.0
    drain_seconds: float = 0.0  # from the last 250 (or the end of the cut) to every spool empty

    @property
    def ok(self) -> bool:
        problems = self.lost or self.doubled or self.report_mismatches or self.counter_mismatches
        return not problems and not self.not_applied and len(self.accepted) == self.count

    def summary(self) -> str:
        rate = len(self.accepted) / self.burst_seconds if self.burst_seconds else 0.0
        lines = [
            f"bounces: {self.count} distinct, {len(self.accepted)} got 250"
            f" (node a {sum(n == 'a' for n in self.accepted.values())},"
            f" node b {sum(n == 'b' for n in self.accepted.values())}); {self.attempts} DATA attempts,"
            f" 4xx {dict(self.refused) or 0}, sent again to the other node {self.failovers}",
            f"burst {self.burst_seconds:.1f} s ({rate:.0f}/s accepted), drained"
            f" {self.drain_seconds:.1f} s after the last 250 or the end of the cut",
            f"kills {self.kills}; connection cut {self.cut_seconds:.0f} s"
            + (
                f" (/readyz during the cut: {sorted(set(self.ready_during_cut))},"
                f" bounced_central_store_up {sorted(set(self.central_up_during_cut), key=str)},"
                f" largest local backlog {self.backlog_during_cut})"
                if self.cut_seconds
                else ""
            ),
            f"central: events {self.events}, intake rows per node {self.central_intake}",
            f"lost {len(self.lost)}, doubled {len(self.doubled)}, report cells wrong"
            f" {len(self.report_mismatches)}, counters wrong {len(self.counter_mismatches)},"
            f" not applied {self.not_applied}",
        ]
        return "\n".join(lines)


class Burst:
    """Clients sending numbers 0..count-1, half to each node, failing over to the other."""

    def __init__(self, nodes: dict[str, NodeDaemon], figures: Figures, clients: int) -> None:
        self.nodes = nodes
        self.figures = figures
        self.clients = clients
        self.run_id = uuid.uuid4().hex[:12]
        self._next = 0
        self.progress = asyncio.Event()  # set at each 250 (watchers re-check their threshold)

    def _take(self) -> int | None:
        if self._next >= self.figures.count:
            return None
        number, self._next = self._next, self._next + 1
        return number

    async def run(self) -> None:
        await asyncio.gather(*(self._client(random.Random(i)) for i in range(self.clients)))

    async def _client(self, rng: random.Random) -> None:
        conns: dict[str, aiosmtplib.SMTP] = {}
        try:
            while (number := self._take()) is not None:
                node = "ab"[number % 2]
                while not await self._send(conns, node, number):
                    self.figures.failovers += 1
                    node = "b" if node == "a" else "a"
                    await asyncio.sleep(rng.uniform(0.02, 0.1))
        finally:
            for conn in conns.values():
                conn.close()

    async def _send(self, conns: dict[str, aiosmtplib.SMTP], node: str, number: int) -> bool:
        self.figures.attempts += 1
        try:
            conn = conns.get(node)
            if conn is None or not conn.is_connected:
                conn = aiosmtplib.SMTP(hostname="127.0.0.1", port=self.nodes[node].port, timeout=30)
                conns[node] = conn
                await conn.connect()
            await conn.sendmail("", RCPT, message_for(number, self.run_id))
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code >= 500:
                raise RuntimeError(f"message {number} refused for good: {exc.code} {exc.message}") from exc
            self.figures.refused[str(exc.code)] += 1
            conns.pop(node).close()
            return False
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            if (conn := conns.pop(node, None)) is not None:
                conn.close()
            return False
        self.figures.accepted[number] = node
        self.progress.set()
        return True

    async def accepted_at_least(self, share: float) -> None:
        while len(self.figures.accepted) < share * self.figures.count:
            self.progress.clear()
            await self.progress.wait()


async def kill_and_restart(node: NodeDaemon, burst: Burst, figures: Figures, at: float, down: float) -> None:
    await burst.accepted_at_least(at)
    node.kill()
    figures.kills += 1
    assert node.proc is not None
    await node.proc.wait()
    await asyncio.sleep(down)
    await node.start()


async def cut_and_restore(
    proxy: TcpProxy, nodes: list[NodeDaemon], burst: Burst, figures: Figures, at: float, seconds: float
) -> None:
    await burst.accepted_at_least(at)
    await proxy.cut()
    began = time.monotonic()
    await asyncio.sleep(min(2.0, seconds / 2))  # the probes time out / fail meanwhile
    for node in nodes:
        status, body = await node.readyz()
        checks = body.get("checks", {})
        assert isinstance(checks, dict)
        figures.ready_during_cut.append(f"{status} {str(checks.get('central_store', ''))[:11]}")
        figures.backlog_during_cut = max(figures.backlog_during_cut, int(checks.get("backlog", 0)))
        figures.central_up_during_cut.append(await node.metric("bounced_central_store_up"))
    await asyncio.sleep(max(0.0, seconds - (time.monotonic() - began) - 1.0))
    for node in nodes:  # the backlog the cut built up, just before the proxy is back
        _, body = await node.readyz()
        checks = body.get("checks", {})
        assert isinstance(checks, dict)
        figures.backlog_during_cut = max(figures.backlog_during_cut, int(checks.get("backlog", 0)))
    await asyncio.sleep(max(0.0, seconds - (time.monotonic() - began)))
    figures.cut_seconds = time.monotonic() - began
    await proxy.restore()


async def wait_drained(nodes: list[NodeDaemon], timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while any(local_pending(node.spool) for node in nodes):
            await asyncio.sleep(0.2)


async def check_central(dsn: str, figures: Figures, spools: dict[str, Path]) -> None:
    """Count directly in the central database what the 250s promised."""
    conn = await asyncpg.connect(dsn)
    try:
        figures.events = int(await conn.fetchval("SELECT count(*) FROM bounce_events"))
        events = {r[0]: (int(r[1]), r[2]) for r in await conn.fetch(
            "SELECT recipient, count(*), min(kind) FROM bounce_events GROUP BY recipient")}  # fmt: skip
        counted = {r[0]: int(r[1]) for r in await conn.fetch("SELECT address, bounce_count FROM profiles")}
        suppressed = {r[0] for r in await conn.fetch("SELECT address FROM suppressions")}
        audited = Counter(r[0] for r in await conn.fetch(
            "SELECT address FROM audit_log WHERE action = 'suppression.add'"))  # fmt: skip
        figures.central_intake = {r[0]: int(r[1]) for r in await conn.fetch(
            "SELECT coalesce(node, ''), count(*) FROM intake GROUP BY 1 ORDER BY 1")}  # fmt: skip
        figures.not_applied = int(await conn.fetchval("SELECT count(*) FROM intake WHERE state != 'applied'"))
        for number in sorted(figures.accepted):
            address = recipient(number)
            count, kind = events.get(address, (0, None))
            if count == 0:
                figures.lost.append(f"{number} ({address}): no event")
                continue
            if count > 1 or counted.get(address, 0) != 1:
                figures.doubled.append(f"{address}: {count} events, profile count {counted.get(address)}")
            expected = "soft" if is_soft(number) else "hard"
            want_suppressed = expected == "hard"
            if kind != expected or want_suppressed != (address in suppressed):
                figures.lost.append(f"{address}: kind {kind}, suppressed {address in suppressed}")
            if audited[address] != int(want_suppressed):
                figures.doubled.append(f"{address}: {audited[address]} suppression audit entries")
        for address, (count, _) in events.items():
            if count > 1 and not any(address + ":" in d for d in figures.doubled):
                figures.doubled.append(f"{address}: {count} events")
        figures.report_mismatches = await report_mismatches(conn)
        figures.counter_mismatches = await counter_mismatches(conn)
    finally:
        await conn.close()
    figures.not_applied += sum(local_pending(spool) for spool in spools.values())


async def report_mismatches(conn: asyncpg.Connection) -> list[str]:
    """Each report cell against a direct count of the soft events it stands for."""
    wrong = []
    for table, key in (
        ("report_soft_daily", "e.received_at / 86400000000"),
        ("report_soft_monthly", "bounced_month(e.received_at)"),
    ):
        direct = await conn.fetch(
            f"SELECT {key}, coalesce(e.from_domain, ''), coalesce(e.sending_ip, ''), t.id, count(*)"
            " FROM bounce_events AS e JOIN report_soft_texts AS t"
            " ON t.recipient_domain = e.recipient_domain AND t.text_key = e.text_key"
            " WHERE e.kind = 'soft' GROUP BY 1, 2, 3, 4"
        )
        cells = await conn.fetch(f"SELECT * FROM {table}")
        expected = {tuple(row[:4]): int(row[4]) for row in direct}
        stored = {tuple(row[:4]): int(row[4]) for row in cells}
        for cell in expected.keys() | stored.keys():
            if expected.get(cell) != stored.get(cell):
                wrong.append(f"{table} {cell}: stored {stored.get(cell)}, counted {expected.get(cell)}")
    return wrong


async def counter_mismatches(conn: asyncpg.Connection) -> list[str]:
    """The /metrics counters (bounces by kind) against a count of the events."""
    direct = dict(await conn.fetch("SELECT kind, count(*) FROM bounce_events GROUP BY kind"))
    stored = dict(
        await conn.fetch("SELECT k1, sum(n) FROM metric_counters WHERE name = 'bounces' GROUP BY k1")
    )
    return [
        f"bounces {kind}: counter {stored.get(kind)}, events {direct.get(kind)}"
        for kind in direct.keys() | stored.keys()
        if int(direct.get(kind) or 0) != int(stored.get(kind) or 0)
    ]


async def run(
    workdir: Path,
    dsn: str,
    count: int = 10_000,
    clients: int = 16,
    kill: bool = True,
    kill_at: float = 0.4,
    down: float = 1.0,
    cut: float = 0.0,
    cut_at: float = 0.3,
    drain_timeout: float = 600.0,
) -> Figures:
    """One run on the (empty, migrated or not) database at `dsn`; the caller judges."""
    figures = Figures(count=count)
    proxy = None
    node_dsn = dsn
    if cut:
        proxy, node_dsn = await TcpProxy.before(dsn)
    nodes = {name: NodeDaemon(workdir, name, node_dsn) for name in "ab"}
    try:
        for node in nodes.values():  # one after the other: the first migrates the database
            await node.start()
        burst = Burst(nodes, figures, clients)
        began = time.monotonic()
        tasks = [asyncio.create_task(burst.run())]
        if kill:
            tasks.append(asyncio.create_task(kill_and_restart(nodes["a"], burst, figures, kill_at, down)))
        if proxy is not None:
            nodes_list = list(nodes.values())
            tasks.append(asyncio.create_task(cut_and_restore(proxy, nodes_list, burst, figures, cut_at, cut)))
        await tasks[0]
        figures.burst_seconds = time.monotonic() - began
        await asyncio.gather(*tasks)  # a cut (or a restart) may outlast the burst
        sent = time.monotonic()
        await wait_drained(list(nodes.values()), drain_timeout)
        figures.drain_seconds = time.monotonic() - sent
        for node in nodes.values():
            if (rc := await node.stop()) != 0:
                raise RuntimeError(f"node {node.node} stopped with {rc}: see {node.log}")
    finally:
        for node in nodes.values():
            if node.proc is not None and node.proc.returncode is None:
                node.kill()
                await node.proc.wait()
        if proxy is not None:
            await proxy.close()
    await check_central(dsn, figures, {name: node.spool for name, node in nodes.items()})
    return figures


async def run_peer(workdir: Path, count: int, clients: int) -> Figures:
    """The peer: the same burst into one node on its SQLite file (today's single host), no
    kill and no cut; accepted rate, drain time and events counted in the file."""
    figures = Figures(count=count)
    single = NodeDaemon(workdir, "single", "", extra={"storage": {"backend": "sqlite"}})
    await single.start()
    try:
        burst = Burst({"a": single, "b": single}, figures, clients)
        began = time.monotonic()
        await burst.run()
        figures.burst_seconds = time.monotonic() - began
        sent = time.monotonic()
        await wait_drained([single], 600.0)
        figures.drain_seconds = time.monotonic() - sent
    finally:
        await single.stop()
    conn = sqlite3.connect(f"file:{single.spool}?mode=ro", uri=True)
    try:
        figures.events = int(conn.execute("SELECT count(*) FROM bounce_events").fetchone()[0])
    finally:
        conn.close()
    return figures


@contextlib.asynccontextmanager
async def scratch_database(admin_dsn: str = ADMIN_DSN) -> AsyncIterator[str]:
    """A new database on the server, dropped afterwards (other people share the server)."""
    name = f"bounced_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        head, _, _ = admin_dsn.rpartition("/")
        yield f"{head}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="distinct bounces (default 10,000)")
    parser.add_argument("--quick", action="store_true", help="1,000 bounces, a 5 s cut")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--kill", action="store_true", help="SIGKILL node a mid-burst, start it again")
    parser.add_argument("--kill-at", type=float, default=0.4, help="share of the burst accepted first")
    parser.add_argument("--down", type=float, default=1.0, help="seconds node a stays dead")
    parser.add_argument("--cut", type=float, default=0.0, help="seconds the database connection is cut")
    parser.add_argument("--cut-at", type=float, default=0.3, help="share of the burst accepted first")
    parser.add_argument("--admin-dsn", default=ADMIN_DSN, help="where to CREATE/DROP the run's database")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, spools)")
    parser.add_argument("--no-peer", dest="peer", action="store_false", help="skip the one-node SQLite run")
    args = parser.parse_args()
    if args.quick:
        args.count = 1000
        args.cut = min(args.cut, 5.0) if args.cut else 0.0
    if not args.kill and not args.cut:
        args.kill = True

    async def main_async() -> Figures:
        async with scratch_database(args.admin_dsn) as dsn:
            return await run(
                workdir,
                dsn,
                args.count,
                args.clients,
                args.kill,
                args.kill_at,
                args.down,
                args.cut,
                args.cut_at,
            )

    workdir = Path(tempfile.mkdtemp(prefix="bounced-nodes-burst-"))
    figures = asyncio.run(main_async())
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(figures.summary())
    if args.peer:
        peer = asyncio.run(run_peer(workdir, args.count, args.clients))
        rate = len(figures.accepted) / figures.burst_seconds
        peer_rate = len(peer.accepted) / peer.burst_seconds
        print(
            f"peer, one node on SQLite (no kill, no cut): {len(peer.accepted)} got 250 in"
            f" {peer.burst_seconds:.1f} s ({peer_rate:.0f}/s), drained {peer.drain_seconds:.1f} s after"
            f" the last 250, events {peer.events}; accepted rate two nodes / one: {rate / peer_rate:.2f}"
        )
    problems = figures.lost + figures.doubled + figures.report_mismatches + figures.counter_mismatches
    return finish(workdir, figures.ok, problems, args.keep)


if __name__ == "__main__":
    sys.exit(main())
