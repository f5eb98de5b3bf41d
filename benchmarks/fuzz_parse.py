"""Fuzz parse + classify: mutated corpus messages and generated monsters.

    .venv/bin/python benchmarks/fuzz_parse.py [--mutations 20000] [--seed 1] [--corpus DIR]

Checks, per message: nothing raises out of `parse_message` / `classify_message`; CPU time
(time.process_time, tracemalloc off) and peak Python memory (tracemalloc, in a second run:
the parse's own allocations, input excluded). Reports cases, exceptions, p50 / p99.9 /
max CPU, max peak memory, which messages said a cap cut them (`ParsedMessage.truncated`),
and exits 1 when a limit is broken: an exception, p99.9 CPU >= 100 ms, or a peak >= 64 MB.

Monsters: 10,000 recipients in one DSN, 1,000 nested multiparts, a 5 MB header, a 10 MB
single line, invalid charsets, broken base64, a DSN inside a DSN inside a DSN. Mutations
(seeded): byte flips, truncation, duplicated and deleted slices, boundary and header damage,
line-ending swaps, charset and encoding labels swapped for bad ones.
"""

from __future__ import annotations

import argparse
import base64
import random
import statistics
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import CORPUS_DIR, corpus_files, messages_in

from bounced.classify.classify import classify_message
from bounced.config import ClassifyConfig
from bounced.logfmt import configure_logging
from bounced.parse import parse_message

__all__ = ["monsters", "mutate"]

CPU_LIMIT = 0.100  # seconds at p99.9
MEMORY_LIMIT = 64 * 1024 * 1024
_HEAD = (
    b"From: MAILER-DAEMON@mx.example\nTo: b@sender.example\nSubject: Undelivered Mail\nMIME-Version: 1.0\n"
)


def _dsn(recipients: int, inner: bytes = b"") -> bytes:
    fields = b"".join(
        b"\nFinal-Recipient: rfc822; u%d@isp.example\nAction: failed\nStatus: 5.1.1\n"
        b"Diagnostic-Code: smtp; 550 5.1.1 unknown\n" % i
        for i in range(recipients)
    )
    returned = inner or b"From: b@sender.example\nTo: u0@isp.example\nSubject: hi\n\nhello\n"
    b = b"R%d" % len(inner)  # a boundary of its own at each level
    return (
        _HEAD + b'Content-Type: multipart/report; report-type=delivery-status; boundary="' + b + b'"\n\n'
        + b"--" + b + b"\nContent-Type: text/plain\n\nDelivery failed.\n\n"
        + b"--" + b + b"\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example\n" + fields
        + b"\n--" + b + b"\nContent-Type: message/rfc822\n\n" + returned
        + b"\n--" + b + b"--\n"
    )  # fmt: skip


def _nested_multiparts(depth: int) -> bytes:
    opening = b"".join(
        b'--N%d\nContent-Type: multipart/mixed; boundary="N%d"\n\n' % (i, i + 1) for i in range(depth)
    )
    closing = b"".join(b"\n--N%d--\n" % i for i in reversed(range(depth + 1)))
    return (
        _HEAD
        + b'Content-Type: multipart/mixed; boundary="N0"\n\n'
        + opening
        + b"--N%d\n\n<x@y.example>: 550 no\n" % depth
        + closing
    )


def monsters() -> Iterator[tuple[str, bytes]]:
    yield "10000-recipients", _dsn(10_000)
    yield "1000-nested-multiparts", _nested_multiparts(1_000)
    yield (
        "5MB-header",
        _HEAD.replace(b"MIME", b"X-Big: " + b"a" * (5 * 1024 * 1024) + b"\nMIME")
        + b"\n<x@y.example>: 550 no\n",
    )
    yield (
        "5MB-header-before-dsn",
        b"".join(b"X-Pad-%d: %s\n" % (i, b"p" * 990) for i in range(5_300)) + _dsn(2),
    )
    yield "10MB-single-line", _HEAD + b"\n" + b"x" * (10 * 1024 * 1024)
    yield "10MB-line-of-addresses", _HEAD + b"\n" + b"a@b.example " * (900_000)
    yield (
        "invalid-charsets",
        _HEAD.replace(b"MIME", b"Subject: =?x-bogus?q?=FF=FE?=\nMIME")
        + (
            b'Content-Type: text/plain; charset="utf-7\x00bogus"\n\n<x@y.example>: 550 \xff\xfe\xfd unknown\n'
        ),
    )
    yield (
        "broken-base64",
        _HEAD
        + b"Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n"
        + (base64.b64encode(b"<x@y.example>: 550 5.1.1 unknown\n" * 50)[:-3] + b"!!*&^%\n===\n"),
    )
    inner = _dsn(1)
    for _ in range(2):
        inner = _dsn(1, inner)
    yield "dsn-in-dsn-in-dsn", inner
    deep = _dsn(1)
    for _ in range(200):
        deep = _dsn(1, deep)
    yield "dsn-200-deep", deep
    yield "empty", b""
    yield "only-newlines", b"\n" * 100_000
    yield "nul-bytes", b"\x00" * 1_000_000
    yield "header-without-colon", b"x" * 100_000 + b"\n\n<x@y.example>: 550\n"
    yield (
        "many-short-headers",
        b"".join(b"H%d: v\n" % i for i in range(200_000)) + b"\n<x@y.example>: 550 no\n",
    )
    yield "boundary-storm", _HEAD + b'Content-Type: multipart/mixed; boundary="b"\n\n' + b"--b\n" * 300_000
    yield (
        "ses-json-10000",
        _HEAD
        + b"\n"
        + (
            b'{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bouncedRecipients":['
            + b",".join(b'{"emailAddress":"u%d@isp.example","status":"5.1.1"}' % i for i in range(10_000))
            + b"]}}\n"
        ),
    )
    yield (
        "arf-with-huge-report",
        _HEAD
        + b'Content-Type: multipart/report; report-type=feedback-report; boundary="F"\n\n'
        + (
            b"--F\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\n"
            + b"".join(b"Original-Rcpt-To: <u%d@isp.example>\n" % i for i in range(20_000))
            + b"--F--\n"
        ),
    )


_BAD_CHARSETS = (b"x-bogus", b"utf-7", b"\x00", b"iso-8859-99", b'"', b"unicode-1-1-utf-7", b"cp65001")


def mutate(raw: bytes, rng: random.Random) -> bytes:
    """One seeded mutation of `raw`."""
    data = bytearray(raw)
    kind = rng.randrange(9)
    n = len(data) or 1
    if kind == 0:  # flip bytes
        for _ in range(rng.randint(1, 50)):
            data[rng.randrange(n) % max(len(data), 1)] = rng.randrange(256) if data else 0
    elif kind == 1:  # truncate
        del data[rng.randrange(n) :]
    elif kind == 2:  # duplicate a slice, many times
        a = rng.randrange(n)
        piece = bytes(data[a : a + rng.randint(1, 2000)])
        data[a:a] = piece * rng.randint(1, 200)
    elif kind == 3:  # delete a slice
        a = rng.randrange(n)
        del data[a : a + rng.randint(1, 5000)]
    elif kind == 4:  # damage boundaries
        data = bytearray(
            bytes(data).replace(b"--", rng.choice([b"-", b"---", b"--\x00", b""]), rng.randint(1, 20))
        )
    elif kind == 5:  # line endings
        data = bytearray(bytes(data).replace(b"\n", rng.choice([b"\r\n", b"\r", b"\n\n", b"\r\r\n"])))
    elif kind == 6:  # bad charsets and encodings
        text = bytes(data).replace(b"charset=", b"charset=" + rng.choice(_BAD_CHARSETS) + b";x=")
        data = bytearray(text.replace(b"7bit", rng.choice([b"base64", b"quoted-printable", b"x-uuencode"])))
    elif kind == 7:  # header damage: a line without a colon, a huge folded field
        a = rng.randrange(min(n, 2000))
        data[a:a] = rng.choice([b"\nno colon here\n", b"\nX-Fold: a\n" + b" b\n" * 5000, b"\n:\n", b"\n\t\n"])
    else:  # random bytes inserted
        a = rng.randrange(n)
        data[a:a] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 500)))
    return bytes(data)


def _cases(corpus: Path, mutations: int, seed: int) -> Iterator[tuple[str, bytes]]:
    yield from monsters()
    originals = [m for path in corpus_files(corpus) for m in messages_in(path)] if corpus.is_dir() else []
    if not originals:
        print(f"corpus not found at {corpus}: monsters only", file=sys.stderr)
        return
    for raw in originals:
        yield "corpus", raw
    rng = random.Random(seed)
    for i in range(mutations):
        raw = rng.choice(originals)
        for _ in range(rng.randint(1, 3)):
            raw = mutate(raw, rng)
        yield f"mutation-{i}", raw


def _measure(raw: bytes, config: ClassifyConfig) -> tuple[float, int, tuple[str, ...], str | None]:
    """(CPU seconds, peak bytes, caps that cut, exception). CPU is timed with tracemalloc
    off (it slows every allocation several times); a second run measures the peak."""
    started = time.process_time()
    try:
        parsed = parse_message(raw)
        classify_message(parsed, config)
    except Exception as exc:  # the finding this benchmark exists for: report, do not stop
        return time.process_time() - started, 0, (), f"{type(exc).__name__}: {exc}"
    cpu = time.process_time() - started
    tracemalloc.start()
    try:
        classify_message(parse_message(raw), config)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return cpu, peak, parsed.truncated, None


def run(cases: Iterator[tuple[str, bytes]], report: Callable[[str], None] = print) -> int:
    config = ClassifyConfig()
    cpu: list[float] = []
    worst: list[tuple[float, str]] = []
    peaks: list[tuple[int, str]] = []
    errors: list[str] = []
    truncated: Counter[str] = Counter()
    monster_lines: list[str] = []
    for name, raw in cases:
        seconds, peak, cut, error = _measure(raw, config)
        cpu.append(seconds)
        worst.append((seconds, name))
        peaks.append((peak, name))
        for cap in cut:
            truncated[cap] += 1
        if error:
            errors.append(f"{name}: {error}")
        if not name.startswith(("mutation-", "corpus")):
            monster_lines.append(
                f"  {name:<26}{len(raw) / 1e6:8.2f} MB  cpu {1000 * seconds:7.1f} ms"
                f"  peak {peak / 1e6:6.1f} MB  truncated={','.join(cut) or '-'}"
            )
    cpu_sorted = sorted(cpu)
    p999 = cpu_sorted[min(len(cpu_sorted) - 1, int(0.999 * len(cpu_sorted)))]
    max_peak, peak_name = max(peaks)
    report("monsters:")
    for line in monster_lines:
        report(line)
    report(f"cases {len(cpu)}  exceptions {len(errors)}")
    report(
        f"cpu per message: median {1000 * statistics.median(cpu):.2f} ms  p99.9 {1000 * p999:.1f} ms  "
        f"max {1000 * max(worst)[0]:.1f} ms ({max(worst)[1]})"
    )
    report(f"peak memory per message: max {max_peak / 1e6:.1f} MB ({peak_name})")
    report(f"messages a cap cut (and said so): {dict(truncated) or 0}")
    for line in errors[:20]:
        report(f"  exception {line}")
    broken = bool(errors) or p999 >= CPU_LIMIT or max_peak >= MEMORY_LIMIT
    report("limits (no exception, p99.9 < 100 ms, peak < 64 MB): " + ("BROKEN" if broken else "kept"))
    return 1 if broken else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mutations", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--corpus", type=Path, default=CORPUS_DIR)
    args = ap.parse_args(argv)
    configure_logging("WARNING")  # the daemon's logging: third-party chatter quieted as there
    status = run(_cases(args.corpus, args.mutations, args.seed))
    print(
        "\ncommand: .venv/bin/python benchmarks/fuzz_parse.py"
        f" --mutations {args.mutations} --seed {args.seed}"
    )
    return status


if __name__ == "__main__":
    import _figures  # --figures: the output becomes docs/figures.md's latest run

    raise SystemExit(_figures.run(main, "fuzz_parse"))
