"""Slowloris: does a well-behaved client still get through while hundreds of connections
trickle or idle?

`bounced serve` (subprocess, the default limits: max_connections = 500,
max_connections_per_ip = 50) first serves a well-behaved client alone (baseline), then
again while `--trickle` connections send one byte every `--interval` seconds (half of them
in the command phase, half inside DATA) and `--idle` connections send nothing. The
attackers come from `--sources` loopback addresses (127.0.1.x), so the per-address limit
does not turn them away; a last phase sends them all from one address, where it does.

Each round runs the three phases, in rotating order; `--rounds` (3) of them. The
well-behaved client sends `--sends` bounces per phase one after the other, each on a new
connection (connect, EHLO, MAIL, RCPT, DATA, QUIT), from 127.0.0.1. Reported per phase:
the latency of each message (connect to the 250 after the data) as median, p99 and max,
every reply that was not 250, and how many attacking connections were greeted or got 421.

    .venv/bin/python benchmarks/slowloris.py --trickle 300 --idle 100 --sends 200 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ingest import bounced_process

MESSAGE = (
    b"From: MAILER-DAEMON@mx.example.org\r\nTo: b@bounces.example.com\r\n"
    b"Subject: Undelivered Mail Returned to Sender\r\n\r\n"
    b"<user@example.org>: host mx.example.org said: 550 5.1.1 User unknown\r\n.\r\n"
)
ENVELOPE = b"EHLO slow.example\r\nMAIL FROM:<>\r\nRCPT TO:<b@bounces.example.com>\r\nDATA\r\n"


@dataclass
class Phase:
    name: str
    sends: int
    not_250: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    attackers_greeted: int
    attackers_refused: int


async def _reply(reader: asyncio.StreamReader) -> bytes:
    while (line := await reader.readline())[3:4] == b"-":
        pass
    return line


async def send_one(port: int) -> tuple[float, bytes]:
    """(seconds from connect to the final reply to the data, that reply)."""
    start = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        greeting = await _reply(reader)
        if not greeting.startswith(b"220"):
            return time.perf_counter() - start, greeting
        for command in ENVELOPE.replace(b"slow.", b"good.").splitlines(keepends=True)[:3]:
            writer.write(command)
            await _reply(reader)
        writer.write(b"DATA\r\n")
        await _reply(reader)
        writer.write(MESSAGE)
        final = await _reply(reader)
        elapsed = time.perf_counter() - start
        writer.write(b"QUIT\r\n")
        await _reply(reader)
        return elapsed, final
    finally:
        writer.close()


class Attack:
    """Idle and trickling connections, held until `stop()`."""

    def __init__(self, port: int, trickle: int, idle: int, sources: list[str], interval: float) -> None:
        self.port, self.trickle, self.idle = port, trickle, idle
        self.sources, self.interval = sources, interval
        self.greeted = 0
        self.refused = 0
        self.tasks: list[asyncio.Task[None]] = []
        self.writers: list[asyncio.StreamWriter] = []

    async def start(self) -> None:
        opened = await asyncio.gather(*(self._open(i) for i in range(self.trickle + self.idle)))
        for i, conn in enumerate(opened):
            if conn is not None and i < self.trickle:
                self.tasks.append(asyncio.create_task(self._drip(conn, in_data=i % 2 == 1)))

    async def _open(self, i: int) -> asyncio.StreamWriter | None:
        source = self.sources[i % len(self.sources)]
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port, local_addr=(source, 0))
        self.writers.append(writer)
        greeting = await reader.readline()
        if greeting.startswith(b"220"):
            self.greeted += 1
            return writer
        self.refused += 1
        return None

    async def _drip(self, writer: asyncio.StreamWriter, in_data: bool) -> None:
        if in_data:
            writer.write(ENVELOPE)
        text = b"Subject: slow\r\n" + b"x" * 100_000 if in_data else b"NOOP\r\n" * 100_000
        with contextlib.suppress(ConnectionError):
            for byte in text:
                writer.write(bytes([byte]))
                await asyncio.sleep(self.interval)

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for writer in self.writers:
            writer.close()


async def measure(port: int, sends: int, attack: Attack | None) -> tuple[list[float], int, int, int]:
    """(latencies in ms, replies not 250, attackers greeted, attackers refused)."""
    if attack is not None:
        await asyncio.wait_for(attack.start(), 60)
        await asyncio.sleep(2 * attack.interval)  # every dripping connection is mid-command
    results = [await asyncio.wait_for(send_one(port), 30) for _ in range(sends)]
    if attack is not None:
        await attack.stop()
    not_250 = sum(1 for _, reply in results if not reply.startswith(b"250"))
    greeted, refused = (attack.greeted, attack.refused) if attack else (0, 0)
    return [seconds * 1000 for seconds, _ in results], not_250, greeted, refused


async def run(port: int, args: argparse.Namespace) -> list[Phase]:
    """Every phase once per round, the order rotating, so the load the machine has from
    elsewhere falls on all of them alike; figures pool the rounds."""
    spread = [f"127.0.1.{i + 1}" for i in range(args.sources)]
    phases: dict[str, list[float] | None] = {
        "alone": None,
        f"{args.trickle} trickling + {args.idle} idle": None,
        "the same from one address": None,
    }
    pooled: dict[str, tuple[list[float], int, int, int]] = {name: ([], 0, 0, 0) for name in phases}
    names = list(phases)
    for round_ in range(args.rounds):
        for name in names[round_ % 3 :] + names[: round_ % 3]:
            sources = {names[0]: None, names[1]: spread, names[2]: ["127.0.1.250"]}[name]
            attack = (
                None if sources is None else Attack(port, args.trickle, args.idle, sources, args.interval)
            )
            latencies, not_250, greeted, refused = await measure(port, args.sends, attack)
            before = pooled[name]
            pooled[name] = (before[0] + latencies, before[1] + not_250, greeted, refused)
            print(f"round {round_ + 1}: {name}: median {statistics.median(latencies):.1f} ms",
                  file=sys.stderr, flush=True)  # fmt: skip
    out = []
    for name, (latencies, not_250, greeted, refused) in pooled.items():
        latencies.sort()
        out.append(
            Phase(
                name=name,
                sends=len(latencies),
                not_250=not_250,
                p50_ms=statistics.median(latencies),
                p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
                max_ms=latencies[-1],
                attackers_greeted=greeted,
                attackers_refused=refused,
            )
        )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trickle", type=int, default=300)
    ap.add_argument("--idle", type=int, default=100)
    ap.add_argument("--sends", type=int, default=200)
    ap.add_argument("--interval", type=float, default=1.0, help="seconds between two trickled bytes")
    ap.add_argument("--sources", type=int, default=20, help="loopback addresses the attack comes from")
    ap.add_argument("--acceptors", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    with (
        tempfile.TemporaryDirectory(prefix="bounced-slowloris-") as tmp,
        bounced_process(Path(tmp), args.acceptors, 0, per_ip=50) as (_, port, _db),
        runner,
    ):
        phases = runner.run(run(port, args))
    command = "benchmarks/slowloris.py " + " ".join(argv if argv is not None else sys.argv[1:])
    print(f"# {command}")
    print(f"{'phase':<34} {'sends':>5} {'not 250':>7} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
          f"{'attackers greeted/421':>22}")  # fmt: skip
    base = phases[0]
    for p in phases:
        print(f"{p.name:<34} {p.sends:>5} {p.not_250:>7} {p.p50_ms:>7.1f} {p.p99_ms:>7.1f} {p.max_ms:>7.1f} "
              f"{p.attackers_greeted:>14}/{p.attackers_refused:<7}")  # fmt: skip
    for p in phases[1:]:
        ratios = f"p50 {p.p50_ms / base.p50_ms:.2f}x, p99 {p.p99_ms / base.p99_ms:.2f}x"
        print(f"{p.name}: {ratios} the client alone")
    if args.json:
        figures = {"command": command, "phases": [asdict(p) for p in phases]}
        args.json.write_text(json.dumps(figures, indent=2))
    return 0 if all(p.not_250 == 0 for p in phases) else 1


if __name__ == "__main__":
    import _figures  # --figures: the output becomes docs/figures.md's latest run

    raise SystemExit(_figures.run(main, "slowloris"))
