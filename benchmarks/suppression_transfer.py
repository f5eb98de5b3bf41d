"""`bounced suppression export` -> `import` on a fresh database, timed, beside a plain copy.

    .venv/bin/python benchmarks/suppression_transfer.py [--count 100000] [--rounds 3] [--format csv]

Each round: export the list of a filled database (fresh process, end to end), import that
file into a new empty database (fresh process: parse, validate, one transaction per 5,000
with the audit rows), export again and check the bytes are identical. The peer is the floor
for the same copy: Python's csv module and sqlite3 executemany of the bare rows into a new
table, no validation, no audit. Medians and ratios are printed as JSON.
"""

from __future__ import annotations

import argparse
import csv
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.http.transfer_data import bounced, config_for, fill  # noqa: E402


def peer_copy(exported: Path, folder: Path) -> float:
    began = time.perf_counter()
    conn = sqlite3.connect(folder / "peer.sqlite3")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        "CREATE TABLE s (address TEXT PRIMARY KEY, reason TEXT, created_at TEXT, created_by TEXT, note TEXT)"
    )
    with exported.open(newline="", encoding="utf-8") as f:
        rows = csv.reader(f)
        next(rows)
        with conn:
            conn.executemany("INSERT INTO s VALUES (?, ?, ?, ?, ?)", (r[:5] for r in rows))
    out = folder / "peer.csv"
    with out.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(conn.execute("SELECT * FROM s ORDER BY created_at, address"))
    conn.close()
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    args = parser.parse_args()
    export_s, import_s, peer_s = [], [], []
    with tempfile.TemporaryDirectory(prefix="bounced-transfer-") as tmp:
        folder = Path(tmp)
        source = config_for(folder, "source")
        fill(folder / "source.sqlite3", args.count)
        for r in range(args.rounds):
            exported = folder / f"list{r}.{args.format}"
            began = time.perf_counter()
            result = bounced(
                source, "suppression", "export", "--format", args.format, "--output", str(exported)
            )
            export_s.append(time.perf_counter() - began)
            assert result.returncode == 0, result.stderr
            fresh = config_for(folder, f"fresh{r}")
            began = time.perf_counter()
            result = bounced(fresh, "suppression", "import", str(exported), "--reason", "benchmark")
            import_s.append(time.perf_counter() - began)
            assert result.returncode == 0, result.stderr
            again = bounced(fresh, "suppression", "export", "--format", args.format)
            assert again.stdout == exported.read_bytes(), "round trip changed the list"
            if args.format == "csv":
                peer_s.append(peer_copy(exported, folder))
                (folder / "peer.sqlite3").unlink()
    med_export, med_import = statistics.median(export_s), statistics.median(import_s)
    report = {
        "addresses": args.count,
        "format": args.format,
        "rounds": args.rounds,
        "export_s_median": round(med_export, 3),
        "import_s_median": round(med_import, 3),
        "round_trip_s_median": round(med_export + med_import, 3),
        "import_per_s": round(args.count / med_import),
        "identical": True,
    }
    if peer_s:
        med_peer = statistics.median(peer_s)
        report["peer_plain_copy_s_median"] = round(med_peer, 3)
        report["ratio_round_trip_to_peer"] = round((med_export + med_import) / med_peer, 2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    import _figures  # --figures: the output becomes docs/figures.md's latest run

    raise SystemExit(_figures.run(main, "suppression_transfer"))
