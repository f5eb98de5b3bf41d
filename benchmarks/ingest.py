"""Ingest: how fast bounced accepts bounces durably, next to Postfix's smtpd on this machine.

One run, both servers, same client: N distinct bounce messages over M parallel sessions
(one message per connection, like MTAs returning bounces) go to

  - `bounced serve` (subprocess; 250 only after the SQLite commit), once per value of
    `--acceptors` (its `[smtp] acceptors`: SMTP sessions in that many processes), and
  - a private Postfix instance (own config and queue directory under a temp dir,
    `smtpd` on a free loopback port, every message put on hold so nothing is delivered;
    Postfix answers 250 after cleanup has fsync'd the queue file).

The messages are one corpus DSN made distinct per message (its own Message-ID, its own
failed recipient), so bounced's dedup does not turn all but the first into cheap
duplicates; they are sent by a small asyncio SMTP client (uvloop) in this process.
`--client smtp-source` sends N identical copies with Postfix's `smtp-source` instead.

Rounds alternate the order; medians are printed. For bounced it also reports the time from
the first 250 to the last message applied (parse, classify, record), 250 -> applied
latencies (intake received_at -> processed_at) and the peak RSS of its process tree.
`--sustained SECONDS` then offers distinct bounces at Postfix's measured rate for that long
to each bounced variant and samples the pending backlog: does applying keep up with a
flood longer than `processing.burst_hold`?

    .venv/bin/python benchmarks/ingest.py --messages 3000 --sessions 20 --rounds 3 --sustained 20

Needs: postfix and smtp-source (Debian package `postfix`), root (Postfix's master).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from _smtp_client import distinct_messages, send_distinct, send_paced

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus" / "emails"
DEFAULT_MESSAGE = CORPUS / "lhost-postfix-01.eml"  # a typical Postfix DSN, 2.3 kB
RCPT = "b@bounces.example.com"

GENERATED = """Return-Path: <>
From: MAILER-DAEMON@mx.example.org (Mail Delivery System)
To: b@bounces.example.com
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B1"

--B1
Content-Type: text/plain

<jane.doe@example.org>: host mail.example.org said: 550 5.1.1 User unknown

--B1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; jane.doe@example.org
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <jane.doe@example.org>: User unknown

--B1
Content-Type: text/rfc822-headers

From: news@shop.example.com
To: jane.doe@example.org
Subject: Offers
Message-ID: <o1@shop.example.com>

--B1--
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def smtp_source(port: int, message: Path, count: int, sessions: int) -> float:
    """Send `count` messages; returns wall seconds. Raises if smtp-source failed."""
    cmd = ["smtp-source", "-s", str(sessions), "-m", str(count), "-F", str(message), "-f", "",
           "-t", RCPT, f"127.0.0.1:{port}"]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600)
    return time.perf_counter() - start


# --- Postfix ------------------------------------------------------------------------

MASTER_CF = """{port} inet n - n - - smtpd
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
proxywrite unix - - n - 1 proxymap
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
"""

MAIN_CF = """compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = bench.localdomain
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
# Hold every message: accepted durably into the queue, never delivered.
smtpd_recipient_restrictions = check_client_access static:HOLD, permit_mynetworks, reject
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
"""


class Postfix:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.etc = root / "etc"
        self.port = free_port()

    def start(self) -> None:
        self.etc.mkdir(parents=True)
        (self.root / "queue").mkdir()
        (self.root / "data").mkdir()
        shutil.chown(self.root / "data", "postfix")
        (self.etc / "main.cf").write_text(MAIN_CF.format(root=self.root))
        (self.etc / "master.cf").write_text(MASTER_CF.format(port=f"127.0.0.1:{self.port}"))
        for action in ("check", "start"):
            subprocess.run(["postfix", "-c", str(self.etc), action], check=True, capture_output=True)
        wait_for_port(self.port)

    def held(self) -> int:
        return sum(len(files) for _, _, files in os.walk(self.root / "queue" / "hold"))

    def clear(self) -> None:
        cmd = ["postsuper", "-c", str(self.etc), "-d", "ALL", "hold"]
        subprocess.run(cmd, check=True, capture_output=True)

    def stop(self) -> None:
        subprocess.run(["postfix", "-c", str(self.etc), "stop"], check=False, capture_output=True)


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port}")


# --- bounced ------------------------------------------------------------------------


@dataclass
class BouncedRound:
    accept_s: float
    apply_rate: float  # messages applied per second, first 250 to last applied
    p50_ms: float
    p99_ms: float
    peak_rss_mb: float
    applied: int


# Diagnostic contender: the same daemon with its processor stopped, so the listener has the
# Python process to itself (what intake costs without applying alongside).
SPOOL_ONLY_SERVER = """
import asyncio, signal, sys
from bounced.eventloop import loop_factory
from bounced.config import load_config
from bounced.daemon import Daemon
from bounced.logfmt import configure_logging

async def main():
    configure_logging("warning")
    daemon = Daemon(load_config(sys.argv[1]))
    await daemon.start()
    await daemon.processor.stop()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await daemon.stop()

with asyncio.Runner(loop_factory=loop_factory()) as runner:
    runner.run(main())
"""


@contextlib.contextmanager
def bounced_process(
    workdir: Path, acceptors: int, sessions: int, spool_only: bool = False, per_ip: int = 0
) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    """A `bounced serve` (or the spool-only variant) until READY=1: (process, port, db).
    Stopped with SIGTERM at the end, which must exit 0. `per_ip`: its
    max_connections_per_ip (0: off, as the load comes from one address)."""
    port = free_port()
    db = workdir / "bounced.sqlite3"
    config = workdir / "bounced.toml"
    config.write_text(
        f'[smtp]\nlisten = "127.0.0.1:{port}"\ndomains = ["bounces.example.com"]\n'
        f"max_connections = {max(500, sessions * 2)}\nmax_connections_per_ip = {per_ip}\n"
        f"acceptors = {acceptors}\n"
        f'[storage]\npath = "{db}"\n[log]\nlevel = "warning"\n'
    )
    notify_name = f"bounced-bench-{uuid.uuid4().hex}"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind("\0" + notify_name)
    notify.settimeout(30)
    stderr = open(workdir / "stderr.log", "wb")  # noqa: SIM115 - handed to the child
    if spool_only:
        cmd = [sys.executable, "-c", SPOOL_ONLY_SERVER, str(config)]
    else:
        cmd = [str(Path(sys.executable).with_name("bounced")), "serve", "--config", str(config)]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL, stderr=stderr, env={**os.environ, "NOTIFY_SOCKET": "@" + notify_name},
    )  # fmt: skip
    try:
        while b"READY=1" not in notify.recv(4096).split(b"\n"):
            pass
        yield proc, port, db
        proc.send_signal(signal.SIGTERM)
        if proc.wait(60) != 0:
            raise RuntimeError(f"bounced exited {proc.returncode}: see {workdir / 'stderr.log'}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        stderr.close()
        notify.close()


def run_bounced(workdir: Path, load: Workload, acceptors: int, spool_only: bool = False) -> BouncedRound:
    count = load.count
    with bounced_process(workdir, acceptors, load.sessions, spool_only) as (proc, port, db):
        accept_s = load.send(port)
        if spool_only:
            spooled = count_intake(db)
            if spooled != count:
                raise RuntimeError(f"spooled {spooled} of {count}")
            return BouncedRound(accept_s, 0.0, 0.0, 0.0, peak_rss_kb(proc.pid) / 1024, 0)
        rows = wait_applied(db, count)
        peak_kb = sum(peak_rss_kb(pid) for pid in process_tree(proc.pid))
    first_received = min(r for r, _ in rows)
    last_applied = max(p for _, p in rows)
    latencies = sorted((p - r) / 1000 for r, p in rows)
    return BouncedRound(
        accept_s=accept_s,
        apply_rate=len(rows) / ((last_applied - first_received) / 1e6),
        p50_ms=latencies[len(latencies) // 2],
        p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        peak_rss_mb=peak_kb / 1024,
        applied=len(rows),
    )


def wait_applied(db: Path, count: int, timeout: float = 600.0) -> list[tuple[int, int]]:
    """(received_at, processed_at) in microseconds for every intake, once none is pending.
    Read-only, from outside the daemon, as an operator's query would."""
    deadline = time.monotonic() + timeout
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        while time.monotonic() < deadline:
            rows = conn.execute("SELECT state, received_at, processed_at FROM intake").fetchall()
            if len(rows) >= count and all(state != "pending" for state, _, _ in rows):
                bad = [s for s, _, _ in rows if s != "applied"]
                if bad:
                    raise RuntimeError(f"{len(bad)} intake messages not applied: {set(bad)}")
                return [(r, p) for _, r, p in rows]
            time.sleep(0.05)
    finally:
        conn.close()
    raise RuntimeError(f"not all {count} messages applied within {timeout}s")


def count_intake(db: Path, state: str | None = None) -> int:
    """Intake rows (in `state`), read-only from outside the daemon."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        if state is None:
            return int(conn.execute("SELECT COUNT(*) FROM intake").fetchone()[0])
        return int(conn.execute("SELECT COUNT(*) FROM intake WHERE state = ?", (state,)).fetchone()[0])
    finally:
        conn.close()


def process_tree(root: int) -> list[int]:
    """`root` and its descendants (acceptors, analysis workers and their forkserver)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    tree, grew = {root}, True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return sorted(tree)


def peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


# --- sustained load ------------------------------------------------------------------


@dataclass
class Sustained:
    offered: float  # msg/s asked of the client
    achieved: float  # msg/s it got 250 for
    max_backlog: int  # pending intake, sampled every 0.25 s while sending
    end_backlog: int  # pending when the last 250 came
    drain_s: float  # last 250 to last applied
    p50_ms: float
    p99_ms: float


def run_sustained(
    workdir: Path,
    text: str,
    recipient: str | None,
    acceptors: int,
    rate: float,
    seconds: float,
    sessions: int,
) -> Sustained:
    """Distinct bounces offered at `rate` for `seconds` (the asyncio client, paced), applying
    running as it would under a long flood; the pending backlog is sampled from outside."""
    count = int(rate * seconds)
    messages = distinct_messages(text, recipient, count)
    with bounced_process(workdir, acceptors, sessions) as (_, port, db):
        samples: list[int] = []
        sending = threading.Event()
        sending.set()

        def sample() -> None:
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
            try:
                while sending.is_set():
                    samples.append(
                        conn.execute("SELECT COUNT(*) FROM intake WHERE state = 'pending'").fetchone()[0]
                    )
                    time.sleep(0.25)
            finally:
                conn.close()

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            sent_s = send_paced(port, messages, sessions, RCPT, rate)
        finally:
            sending.clear()
            sampler.join()
        end_backlog = count_intake(db, "pending")
        rows = wait_applied(db, count)
    last_received = max(r for r, _ in rows)
    latencies = sorted((p - r) / 1000 for r, p in rows)
    return Sustained(
        offered=rate,
        achieved=count / sent_s,
        max_backlog=max([*samples, end_backlog]),
        end_backlog=end_backlog,
        drain_s=(max(p for _, p in rows) - last_received) / 1e6,
        p50_ms=latencies[len(latencies) // 2],
        p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    )


# --- main ---------------------------------------------------------------------------


@dataclass
class Workload:
    """What the client sends: N distinct variants of one bounce (asyncio client), or N
    copies of it (`smtp-source`)."""

    client: str  # "distinct" or "smtp-source"
    file: Path  # the message, for smtp-source (which adds CRLF and dot-stuffs itself)
    messages: list[bytes]  # the distinct variants, ready for DATA
    count: int
    sessions: int
    label: str
    text: str  # the bounce, LF line ends
    recipient: str | None  # its failed recipient, varied per distinct message

    def send(self, port: int) -> float:
        if self.client == "smtp-source":
            return smtp_source(port, self.file, self.count, self.sessions)
        return send_distinct(port, self.messages, self.sessions, RCPT)


def prepare_workload(args: argparse.Namespace, workdir: Path) -> Workload:
    path: Path | None = args.message
    if path is None and DEFAULT_MESSAGE.is_file():
        path = DEFAULT_MESSAGE
    text = path.read_bytes().decode("utf-8", "replace") if path else GENERATED
    text = text.replace("\r\n", "\n")
    out = workdir / "message.eml"
    out.write_text(text)
    recipient = expected_recipient(path) if path else "jane.doe@example.org"
    distinct = args.client == "distinct"
    messages = distinct_messages(text, recipient, args.messages) if distinct else []
    label = str(path) if path else "generated DSN (corpus absent)"
    label += f"; {'distinct variants' if distinct else 'identical copies'}, client {args.client}"
    return Workload(args.client, out, messages, args.messages, args.sessions, label, text, recipient)


def expected_recipient(path: Path) -> str | None:
    """The failed recipient the corpus lists for `path` (None when not a corpus file)."""
    expected = CORPUS.parent / "expected.jsonl"
    if not expected.is_file():
        return None
    for line in expected.read_text().splitlines():
        entry = json.loads(line)
        if (CORPUS.parent / entry["file"]).resolve() == path.resolve() and entry.get("recipient"):
            return str(entry["recipient"])
    return None


def run_round(
    i: int, who: str, args: argparse.Namespace, root: Path, load: Workload, postfix: Postfix
) -> tuple[float, BouncedRound | None]:
    """One contender's round: seconds to accept, and bounced's figures (prints its line)."""
    if who == "postfix":
        postfix.clear()
        seconds = load.send(postfix.port)
        held = postfix.held()
        if held != args.messages:
            raise RuntimeError(f"postfix queued {held} of {args.messages}")
        print(f"round {i + 1} {who}: {args.messages / seconds:8.0f} msg/s accepted")
        return seconds, None
    workdir = root / f"{who}-{i}"
    workdir.mkdir()
    acceptors = int(who.rpartition("=")[2]) if "=" in who else args.acceptors[0]
    r = run_bounced(workdir, load, acceptors, spool_only=who == "listener-only")
    if who == "listener-only":
        print(f"round {i + 1} {who}: {args.messages / r.accept_s:8.0f} msg/s accepted (processor stopped)")
        return r.accept_s, None
    print(
        f"round {i + 1} {who}: {args.messages / r.accept_s:8.0f} msg/s accepted, "
        f"{r.apply_rate:6.0f} msg/s applied, 250->applied p50 {r.p50_ms:.0f} ms "
        f"p99 {r.p99_ms:.0f} ms, peak RSS {r.peak_rss_mb:.0f} MB"
    )
    return r.accept_s, r


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument(
        "--acceptors",
        type=int,
        nargs="+",
        default=[0, 2],
        help="bounced's [smtp] acceptors; each value is a contender (default: 0 2)",
    )
    ap.add_argument("--message", type=Path, help="bounce to send (default: a corpus DSN)")
    ap.add_argument(
        "--client",
        choices=("distinct", "smtp-source"),
        default="distinct",
        help="distinct variants over an asyncio client (default), or identical copies via smtp-source",
    )
    ap.add_argument(
        "--sustained",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="then offer distinct bounces at Postfix's measured rate for SECONDS to each bounced "
        "variant and report the backlog (does applying keep up with a long flood?)",
    )
    ap.add_argument(
        "--listener-only",
        action="store_true",
        help="also run bounced with its processor stopped (diagnostic)",
    )
    args = ap.parse_args(argv)
    for tool in ("smtp-source", "postfix", "postsuper"):
        if shutil.which(tool) is None:
            print(f"{tool} not found: install Debian's postfix package", file=sys.stderr)
            return 1
    command = "benchmarks/ingest.py " + " ".join(argv if argv is not None else sys.argv[1:])
    variants = [f"bounced acceptors={a}" for a in args.acceptors]
    contenders = ["postfix", *variants] + (["listener-only"] if args.listener_only else [])
    times: dict[str, list[float]] = {who: [] for who in contenders}
    rounds: dict[str, list[BouncedRound]] = {who: [] for who in variants}
    with tempfile.TemporaryDirectory(prefix="bounced-ingest-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)  # Postfix's daemons run as the postfix user and must get in
        load = prepare_workload(args, root)
        postfix = Postfix(root / "postfix")
        postfix.start()
        try:
            for i in range(args.rounds):
                order = contenders[i % len(contenders) :] + contenders[: i % len(contenders)]
                for who in order:
                    seconds, figures = run_round(i, who, args, root, load, postfix)
                    times[who].append(seconds)
                    if figures is not None:
                        rounds[who].append(figures)
        finally:
            postfix.stop()
        rate = {who: args.messages / statistics.median(t) for who, t in times.items()}
        pf_rate = rate["postfix"]
        sustained: dict[str, Sustained] = {}
        for who in variants if args.sustained else []:
            workdir = root / f"{who}-sustained"
            workdir.mkdir()
            acceptors = int(who.rpartition("=")[2])
            sustained[who] = s = run_sustained(
                workdir, load.text, load.recipient, acceptors, pf_rate, args.sustained, args.sessions
            )
            print(
                f"sustained {who}: offered {s.offered:.0f} msg/s, got 250 for {s.achieved:.0f} msg/s, "
                f"backlog max {s.max_backlog}, at the end {s.end_backlog}, drained {s.drain_s:.2f} s later"
            )
    print()
    print(f"command: {command}")
    print(f"message: {load.label}")
    sessions = f"{args.sessions} sessions (one message per connection)"
    print(f"{args.messages} messages, {sessions}, {args.rounds} rounds")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")

    def line(label: str, value: str, note: str = "") -> None:
        print(f"{label:30}{value:>12}   {note}".rstrip())

    def ratio(value: float, goal: str = "") -> str:
        return f"ratio {value / pf_rate:.2f}x" + (f" (goal >= {goal})" if goal else "")

    line("", "median")
    line("postfix smtpd accepted", f"{pf_rate:.0f} msg/s")
    for who in variants:
        print(who)
        runs = rounds[who]
        burst_apply = statistics.median(r.apply_rate for r in runs)
        line("  accepted", f"{rate[who]:.0f} msg/s", ratio(rate[who], "1.5x"))
        line("  applied, first 250 to last", f"{burst_apply:.0f} msg/s", ratio(burst_apply))
        line("  250 -> applied p50", f"{statistics.median(r.p50_ms for r in runs):.0f} ms")
        line("  250 -> applied p99", f"{statistics.median(r.p99_ms for r in runs):.0f} ms")
        line("  peak RSS, all processes", f"{max(r.peak_rss_mb for r in runs):.0f} MB")
        if who in sustained:
            st = sustained[who]
            print(f"  sustained {args.sustained:.0f} s, distinct bounces offered at Postfix's rate:")
            line("    offered / got 250 for", f"{st.offered:.0f} / {st.achieved:.0f}", "msg/s")
            line("    backlog max / at the end", f"{st.max_backlog} / {st.end_backlog}", "messages")
            catch_up = st.end_backlog / st.drain_s if st.drain_s > 0 else 0.0
            line("    drained after the last 250", f"{st.drain_s:.2f} s", f"{catch_up:.0f} msg/s")
            line("    250 -> applied p50 / p99", f"{st.p50_ms:.0f} / {st.p99_ms:.0f}", "ms")
    if "listener-only" in rate:
        print(f"listener alone (processor stopped, acceptors={args.acceptors[0]})")
        line("  accepted", f"{rate['listener-only']:.0f} msg/s", ratio(rate["listener-only"]))
    return 0


if __name__ == "__main__":
    import _figures  # --figures: the output becomes docs/figures.md's latest run

    raise SystemExit(_figures.run(main, "ingest"))
