"""Soft-bounce report speed on 10 million events, side by side with a direct GROUP BY.

    .venv/bin/python benchmarks/report.py [--events 10000000] [--rounds 5]
        [--backend sqlite|postgresql|both] [--dsn postgresql://postgres@127.0.0.1:5432/bounced_bench_report]
        [--periods month year unaligned] [--csv-only]

Fills (once; cached under benchmarks/out/) a store with `--events` bounce events over 2025
(see _report_data.py for the distributions); with `--backend postgresql` or `both`, the
same events are copied into the PostgreSQL database `--dsn` names through the real schema
and triggers (_report_pg.py; created if missing, reused while it holds this fill). Then for
a month, a whole year and an unaligned period with an offset, both groupings, on each
backend, times:

- ours, query: the store's exact cells for the period, streamed out, nothing written (what
  the peer measures too); cold and warm as below.
- ours, CSV report: `bounced report --format csv --config F` end to end, as a whole new
  process timed from outside (interpreter start, imports, config, open store, exact counts
  from the triggers' aggregates, descriptions, CSV written), each round; round 1 is cold
  (SQLite: the database file's pages evicted from the OS page cache with
  posix_fadvise(DONTNEED), new process), the rest warm; peak RSS of that process. On
  PostgreSQL round 1 is only a new process: the shared server's buffers and files cannot
  be evicted without restarting it. The CLI there opens
  the node store, whose local spool is a scratch file under benchmarks/out/.
- peer: the report a plain schema gives: one GROUP BY over the raw soft events with the
  best index (query only, no descriptions or writing), fresh process, cold then warm.

"cells": whether every run's (group, domain, text, amount) set, on every backend, hashes
the same as the SQLite peer's direct count (it must: the aggregates are exact).

"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import hashlib
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bounced.config.storage import StorageConfig

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

CASES = [
    ("month", "2025-06-01", "2025-07-01"),
    ("year", "2025-01-01", "2026-01-01"),
    ("unaligned", "2025-03-15T07:00+02:00", "2025-04-20T13:30+02:00"),
]
GROUPINGS = ("from-domain", "ip")


def _ensure_db(events: int) -> Path:
    import _report_data as data

    out = HERE / "out"
    out.mkdir(exist_ok=True)
    path = out / f"report-{events}-{data.migrations_digest()}.sqlite3"
    if not path.exists():
        print(f"generating {events:,} events into {path} (once; cached) ...", flush=True)
        data.generate(path, events)
    return path


def _digest(cells: dict[tuple[str, str, str], int]) -> str:
    """One hash over every (group, domain, text, amount): equal digests, equal reports."""
    h = hashlib.sha256()
    for key in sorted(cells):
        h.update("\x00".join((*key, str(cells[key]))).encode() + b"\n")
    return h.hexdigest()


def _storage(target: str) -> StorageConfig:
    """A store to read: a SQLite file's path, or a PostgreSQL DSN (its spool: a scratch file)."""
    from bounced.config.storage import StorageConfig

    if target.startswith("postgresql://"):
        return StorageConfig(
            backend="postgresql", dsn=target, path=str(HERE / "out" / "report-spool.sqlite3")
        )
    return StorageConfig(path=target)


def _config_path(target: str) -> Path:
    return HERE / "out" / f"report-{_storage(target).backend}.toml"


def _write_config(target: str) -> None:
    """The --config the CLI runs with (its [storage] is `_storage(target)`)."""
    storage = _storage(target)
    path = _config_path(target)
    lines = ["[storage]", f'backend = "{storage.backend}"', f'path = "{storage.path}"']
    if storage.dsn:
        lines.append(f'dsn = "{storage.dsn}"')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    if storage.backend == "postgresql":  # the CLI refuses a missing storage.path
        from bounced.store.sqlite import SQLiteStore

        async def make_spool() -> None:
            await (await SQLiteStore.open(storage)).close()

        asyncio.run(make_spool())


def _run_ours(target: str, start: str, end: str, group_by: str, fmt: str = "csv") -> dict[str, object]:
    """`bounced report` as an operator runs it: a whole new process (interpreter start, imports,
    config, store, query, descriptions, file written), timed from here."""
    output = HERE / "out" / f"bench-{os.getpid()}.{fmt}"
    argv = ["report", "--from", start, "--to", end, "--group-by", group_by, "--format", fmt]
    argv += ["--output", str(output), "--config", str(_config_path(target))]
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bounced", *argv], capture_output=True, text=True)
    elapsed = time.perf_counter() - began
    if done.returncode:
        raise SystemExit(f"bounced {' '.join(argv)}: exit {done.returncode}: {done.stderr}")
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    import csv

    cells = {}
    rows = 0
    if fmt == "csv":
        with output.open(encoding="utf-8-sig", newline="") as fh:
            for row in list(csv.reader(fh))[1:-1]:
                cells[(row[0], row[1], row[2])] = int(row[-1])
        rows = len(cells)
    size = output.stat().st_size
    output.unlink()
    return {
        "seconds": elapsed,
        "rows": rows,
        "total": sum(cells.values()),
        "rss_mb": rss,
        "bytes": size,
        "cells": _digest(cells),
    }


def _run_ours_query(target: str, start: str, end: str, group_by: str) -> dict[str, object]:
    """The counting alone (what the peer does): every cell out of the store, nothing written."""
    from bounced.cli.period import parse_when
    from bounced.model import ReportGrouping
    from bounced.store import open_store

    cells: dict[tuple[str, str, str], int] = {}

    async def main() -> float:
        store = await open_store(_storage(target))
        try:
            began = time.perf_counter()
            batches = store.soft_bounce_group_batches(
                parse_when(start), parse_when(end), ReportGrouping(group_by)
            )
            async for batch in batches:
                for g in batch:
                    cells[(g.group or "(unknown)", g.recipient_domain, g.text_key)] = g.amount
            return time.perf_counter() - began
        finally:
            await store.close()

    elapsed = asyncio.run(main())
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    return {
        "seconds": elapsed,
        "rows": len(cells),
        "total": sum(cells.values()),
        "rss_mb": rss,
        "cells": _digest(cells),
    }


def _peer_sql(column: str) -> str:
    return (
        f"SELECT coalesce({column}, ''), recipient_domain, text_key, count(*) AS n FROM bounce_events"
        " WHERE kind = 'soft' AND received_at >= ? AND received_at < ?"
        " GROUP BY 1, 2, 3 ORDER BY n DESC, 1, 2, 3"
    )


def _run_peer(target: str, start: str, end: str, group_by: str) -> dict[str, object]:
    from bounced.cli.period import parse_when

    sql = _peer_sql("from_domain" if group_by == "from-domain" else "sending_ip")
    a, b = (int(parse_when(x).timestamp() * 1_000_000) for x in (start, end))
    if target.startswith("postgresql://"):
        import _report_pg

        elapsed, rows = asyncio.run(_report_pg.peer_rows(target, sql, a, b))
    else:
        conn = sqlite3.connect(f"file:{target}?mode=ro", uri=True)
        began = time.perf_counter()
        rows = conn.execute(sql, (a, b)).fetchall()
        elapsed = time.perf_counter() - began
        conn.close()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    cells = {(g or "(unknown)", rd, tk): n for g, rd, tk, n in rows}
    return {
        "seconds": elapsed,
        "rows": len(rows),
        "total": sum(cells.values()),
        "rss_mb": rss,
        "cells": _digest(cells),
    }


def _child(side: str, target: str, *args: str) -> dict[str, object]:
    cmd = [sys.executable, __file__, "--child", side, "--db", target, *args]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    result: dict[str, object] = json.loads(done.stdout)
    return result


def _evict(target: str) -> None:
    """Drop this database's pages from the OS page cache (only this file's), for cold runs;
    a PostgreSQL server's cannot be (its files and buffers are the shared server's)."""
    if target.startswith("postgresql://"):
        return
    for path in (Path(target), Path(f"{target}-wal")):
        if path.exists():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def _cold_warm(runs: list[dict[str, object]]) -> tuple[float, float]:
    seconds = [float(r["seconds"]) for r in runs]  # type: ignore[arg-type]
    return seconds[0], statistics.median(seconds[1:]) if len(seconds) > 1 else seconds[0]


def insert_cost(count: int = 100_000, rounds: int = 3) -> None:
    """What the report's triggers cost the writer: soft events inserted per second into a
    fresh store with every migration, and with every migration but 0003 (the peer)."""
    import random

    import _report_data as data

    rng = random.Random(1)
    rows = []
    for i in range(count):
        domain = f"d{int(rng.paretovariate(1.1)) % 5000}.example"
        rows.append(
            (
                data.DAY_US * 20089 + i * 300_000_000,
                f"u{i}@{domain}",
                domain,
                "soft",
                "mailboxfull",
                452,
                f"452 4.2.2 <u{i}@{domain}>: Mailbox full",
                f"452 4.2.2 <EMAIL>: Mailbox full ({i % 50})",
                f"news{i % 40}.example",
                f"198.51.100.{i % 8}",
                f"m{i % 400}",
                f"key-{i}",
            )
        )
    sql = (
        "INSERT INTO bounce_events (received_at, recipient, recipient_domain, kind, reason, reply_code,"
        " diagnostic, text_key, from_domain, sending_ip, mailing_id, dedup_key)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    print(
        f"\ninsert cost: {count:,} soft events, 100 per transaction, synchronous=NORMAL, median of {rounds}"
    )
    for label, skip in (("without 0003 (peer)", "0003_"), ("with 0003 triggers", None)):
        rates = []
        for _ in range(rounds):
            path = HERE / "out" / "insert-cost.sqlite3"
            for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                p.unlink(missing_ok=True)
            conn = sqlite3.connect(path, isolation_level=None)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            data.apply_migrations(conn, skip=skip)
            began = time.perf_counter()
            for i in range(0, count, 100):
                conn.execute("BEGIN")
                conn.executemany(sql, rows[i : i + 100])
                conn.execute("COMMIT")
            rates.append(count / (time.perf_counter() - began))
            conn.close()
        rate = statistics.median(rates)
        print(f"  {label:<22} {rate:>9,.0f} events/s  ({1e6 / rate:.1f} us each)")


def _targets(ns: argparse.Namespace, db: Path) -> list[tuple[str, str]]:
    """(backend, target) pairs to measure, filled and configured."""
    targets = []
    if ns.backend in ("sqlite", "both"):
        targets.append(("sqlite", str(db)))
    if ns.backend in ("postgresql", "both"):
        # In a process of its own: the fill's memory would otherwise show in every child's
        # peak RSS (Linux keeps the parent's at fork across exec).
        fill = [sys.executable, str(HERE / "_report_pg.py"), ns.dsn, str(db)]
        subprocess.run(fill, check=True)
        targets.append(("postgresql", ns.dsn))
    for _, target in targets:
        _write_config(target)
    return targets


@dataclass(frozen=True)
class _Measured:
    """One backend, one case: (first, warm median) seconds of each side, and the cells."""

    query: tuple[float, float]
    csv: tuple[float, float]
    peer: tuple[float, float]
    rss_mb: int
    rows: int
    total: int
    digests: set[str]
    peer_digest: str


def _measure(
    ns: argparse.Namespace, target: str, label: str, start: str, end: str, group_by: str
) -> _Measured:
    _evict(target)
    query = [_child("query", target, start, end, group_by) for _ in range(ns.rounds)]
    _evict(target)
    ours = [_child("ours", target, start, end, group_by) for _ in range(ns.rounds)]
    _evict(target)
    peer_rounds = 2 if label == "year" else ns.peer_rounds
    peer = [_child("peer", target, start, end, group_by) for _ in range(peer_rounds)]
    return _Measured(
        query=_cold_warm(query),
        csv=_cold_warm(ours),
        peer=_cold_warm(peer),
        rss_mb=max(int(r["rss_mb"]) for r in ours),  # type: ignore[call-overload]
        rows=int(ours[0]["rows"]),  # type: ignore[call-overload]
        total=int(ours[0]["total"]),  # type: ignore[call-overload]
        digests={str(r["cells"]) for r in query + ours + peer},
        peer_digest=str(peer[0]["cells"]),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--rounds", type=int, default=5, help="rounds of ours (first is cold)")
    parser.add_argument("--peer-rounds", type=int, default=3)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument(
        "--dsn",
        default="postgresql://postgres@127.0.0.1:5432/bounced_bench_report",
        help="the PostgreSQL database to fill and read (created if missing; its own, it is replaced)",
    )
    parser.add_argument(
        "--periods",
        nargs="+",
        choices=[c[0] for c in CASES],
        default=[c[0] for c in CASES],
        help="cases to run",
    )
    parser.add_argument("--csv-only", action="store_true", help="skip the XLSX and JSON runs")
    parser.add_argument("--insert-cost", action="store_true", help="only measure the triggers' write cost")
    parser.add_argument("--child", choices=("ours", "query", "peer"), help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    ns = parser.parse_args()
    if ns.child:
        run = {"ours": _run_ours, "query": _run_ours_query, "peer": _run_peer}[ns.child]
        print(json.dumps(run(ns.db, *ns.args)))
        return 0

    if ns.insert_cost:
        insert_cost()
        return 0
    db = _ensure_db(ns.events)
    # An installed package has its bytecode compiled; an editable checkout may not write it
    # (PYTHONDONTWRITEBYTECODE), and compiling 80 modules would be timed as start-up.
    compileall.compile_dir(HERE.parent / "bounced", quiet=1)
    targets = _targets(ns, db)
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    n_events, n_soft = conn.execute("SELECT count(*), sum(kind = 'soft') FROM bounce_events").fetchone()
    conn.close()
    print(f"store: {db.name}  {n_events:,} events ({n_soft:,} soft), {db.stat().st_size / 1e9:.1f} GB")
    if ns.backend != "sqlite":
        print(f"postgresql: {ns.dsn} (same events, copied through the real schema and triggers)")
    print(f"machine: {os.cpu_count()} CPUs, SQLite {sqlite3.sqlite_version}, Python {sys.version.split()[0]}")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"command: .venv/bin/python benchmarks/report.py --events {ns.events} --rounds {ns.rounds}"
        f" --backend {ns.backend}" + (f" --dsn {ns.dsn}" if ns.backend != "sqlite" else "")
    )
    print("each run: bounced report --from FROM --to TO --group-by G --format csv --output F --config C")
    header = (
        f"{'period':<10} {'group-by':<12} {'backend':<10} {'rows':>9} {'soft events':>11} |"
        f" {'ours: query':>11} {'warm':>6} | {'CSV report':>10} {'warm':>6} {'RSS MB':>6} |"
        f" {'peer: query':>11} {'warm':>6} | {'peer/ours query':>15} {'warm':>5} | {'cells':>9}"
    )
    print(header)
    print("-" * len(header))
    for label, start, end in [c for c in CASES if c[0] in ns.periods]:
        for group_by in GROUPINGS:
            results = {backend: _measure(ns, t, label, start, end, group_by) for backend, t in targets}
            reference = next(iter(results.values())).peer_digest
            for backend, r in results.items():
                (q_cold, q_warm), (cold, warm), (p_cold, p_warm) = r.query, r.csv, r.peer
                same = r.digests == {reference}
                print(
                    f"{label:<10} {group_by:<12} {backend:<10} {r.rows:>9,} {r.total:>11,} |"
                    f" {q_cold:>10.2f}s {q_warm:>5.2f}s | {cold:>9.2f}s {warm:>5.2f}s {r.rss_mb:>6} |"
                    f" {p_cold:>10.2f}s {p_warm:>5.2f}s |"
                    f" {p_cold / q_cold:>14.1f}x {p_warm / q_warm:>4.1f}x |"
                    f" {'identical' if same else 'DIFFER':>9}",
                    flush=True,
                )
            if len(results) == 2:
                sq, pg = results["sqlite"], results["postgresql"]
                print(
                    f"{'':<23} postgresql/sqlite warm: query {pg.query[1] / sq.query[1]:.1f}x,"
                    f" CSV report {pg.csv[1] / sq.csv[1]:.1f}x, peer {pg.peer[1] / sq.peer[1]:.1f}x",
                    flush=True,
                )
    if ns.csv_only:
        return 0
    print("\nsame reports written as XLSX and JSON (ours; cold = first round):")
    for backend, target in targets:
        for label, start, end in CASES[:1]:
            for fmt in ("xlsx", "json"):
                _evict(target)
                runs = [_child("ours", target, start, end, "from-domain", fmt) for _ in range(3)]
                cold, warm = _cold_warm(runs)
                rss = max(int(r["rss_mb"]) for r in runs)  # type: ignore[call-overload]
                size = int(runs[0]["bytes"]) / 1e6  # type: ignore[call-overload]
                print(
                    f"{label:<10} from-domain  {backend:<10} {fmt:<5} cold {cold:.2f}s warm {warm:.2f}s"
                    f"  RSS {rss} MB  {size:.1f} MB"
                )
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    import _figures  # --figures: the output becomes docs/figures.md's latest run

    raise SystemExit(_figures.run(main, "report"))
