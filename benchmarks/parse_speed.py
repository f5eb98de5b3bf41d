"""Messages per second through parse + classify, side by side with Sisimai in one run.

    .venv/bin/python benchmarks/parse_speed.py [--rounds 7] [--corpus DIR]

Both sides get the same messages from memory (mbox files split into their messages) and are
timed around the parsing only: Python with time.perf_counter, Perl inside the Perl process
with Time::HiRes (interpreter start-up and file reading excluded). Sisimai (Debian's
libsisimai-perl) is driven through `Sisimai->make(\\$text)` (or `->rise` on versions that
have it), which parses and assigns a reason, like our parse_message + classify_message.
Rounds alternate between the two so drift hits both equally; medians are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import CORPUS_DIR, corpus_files, messages_in

from bounced.classify.classify import classify_message
from bounced.config import ClassifyConfig
from bounced.parse import parse_message

__all__ = ["load_messages", "python_round", "sisimai_rounds", "split_rounds"]

PERL_SCRIPT = r"""
use strict; use warnings;
use Time::HiRes qw(time clock);
use Sisimai;
my ($dir, $rounds) = @ARGV;
opendir(my $dh, $dir) or die "cannot open $dir";
my @names = sort grep { /\.eml$/ } readdir($dh);
closedir($dh);
my @texts;
for my $n (@names) {
    open(my $fh, '<:raw', "$dir/$n") or die "cannot read $n";
    local $/; push @texts, scalar <$fh>; close($fh);
}
my $method = Sisimai->can('rise') ? 'rise' : 'make';
my $found = 0;
for my $t (@texts) { my $copy = $t; my $r = Sisimai->$method(\$copy); $found += scalar @$r if $r; }  # warm-up
for my $i (1 .. $rounds) {
    my ($t0, $c0) = (time, clock);
    for my $t (@texts) { my $copy = $t; my $r = Sisimai->$method(\$copy); }
    my ($t1, $c1) = (time, clock);
    printf("{\"round\": %d, \"seconds\": %.6f, \"cpu\": %.6f, \"messages\": %d, "
           . "\"recipients\": %d, \"method\": \"%s\"}\n",
           $i, $t1 - $t0, $c1 - $c0, scalar @texts, $found, $method);
}
"""


def load_messages(corpus_dir: Path) -> list[bytes]:
    messages: list[bytes] = []
    for path in corpus_files(corpus_dir):
        messages.extend(messages_in(path))
    return messages


def python_round(messages: list[bytes], config: ClassifyConfig) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, recipients found) for one pass over `messages`."""
    found = 0
    started, cpu_started = time.perf_counter(), time.process_time()
    for raw in messages:
        found += len(classify_message(parse_message(raw), config))
    return time.perf_counter() - started, time.process_time() - cpu_started, found


def split_rounds(messages: list[bytes], config: ClassifyConfig, rounds: int) -> tuple[float, float]:
    """Median wall seconds of parsing alone and of classifying the parsed messages alone."""
    parse_times: list[float] = []
    classify_times: list[float] = []
    for _ in range(rounds):
        started = time.perf_counter()
        parsed = [parse_message(raw) for raw in messages]
        middle = time.perf_counter()
        for p in parsed:
            classify_message(p, config)
        parse_times.append(middle - started)
        classify_times.append(time.perf_counter() - middle)
    return statistics.median(parse_times), statistics.median(classify_times)


def sisimai_rounds(messages: list[bytes], rounds: int) -> list[dict[str, object]]:
    """Run Sisimai over `messages` for `rounds` timed rounds (one Perl process, after a warm-up)."""
    with tempfile.TemporaryDirectory(prefix="bounced-speed-") as tmp:
        folder = Path(tmp)
        for i, raw in enumerate(messages):
            (folder / f"{i:05d}.eml").write_bytes(raw)
        script = folder / "sisimai_speed.pl"
        script.write_text(PERL_SCRIPT)
        proc = subprocess.run(
            ["perl", str(script), str(folder), str(rounds)], capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            raise RuntimeError(f"perl failed: {proc.stderr.strip()[:500]}")
        return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=CORPUS_DIR)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args(argv)
    if not (args.corpus / "expected.jsonl").is_file():
        print(f"corpus not found at {args.corpus}", file=sys.stderr)
        return 2
    if shutil.which("perl") is None:
        print("perl not found: install libsisimai-perl", file=sys.stderr)
        return 2
    messages = load_messages(args.corpus)
    config = ClassifyConfig()
    python_round(messages, config)  # warm-up: imports, regex compilation
    py_times: list[float] = []
    perl_times: list[float] = []
    py_cpu: list[float] = []
    perl_cpu: list[float] = []
    perl_method = "?"
    found = 0
    for _ in range(args.rounds):
        # Alternate single rounds so machine noise lands on both sides alike.
        [perl] = sisimai_rounds(messages, 1)
        perl_times.append(float(perl["seconds"]))  # type: ignore[arg-type]
        perl_cpu.append(float(perl["cpu"]))  # type: ignore[arg-type]
        perl_method = str(perl["method"])
        python_round(messages, config)  # warm-up, as the Perl side has one in its process
        seconds, cpu, found = python_round(messages, config)
        py_times.append(seconds)
        py_cpu.append(cpu)
    n = len(messages)
    py_rate, perl_rate = n / statistics.median(py_times), n / statistics.median(perl_times)
    py_cpu_rate, perl_cpu_rate = n / statistics.median(py_cpu), n / statistics.median(perl_cpu)
    perl_label = f"Sisimai {perl_method} (libsisimai-perl)"
    print(f"messages per round: {n} (from {args.corpus}), rounds: {args.rounds}, median of rounds")
    print(f"{'engine':<34}{'wall s/round':>13}{'msgs/s':>9}{'CPU s/round':>13}{'msgs/CPU-s':>12}")
    for label, wall, rate, cpu, cpu_rate in (
        ("bounced parse+classify", py_times, py_rate, py_cpu, py_cpu_rate),
        (perl_label, perl_times, perl_rate, perl_cpu, perl_cpu_rate),
    ):
        print(
            f"{label:<34}{statistics.median(wall):>13.4f}{rate:>9.0f}{statistics.median(cpu):>13.4f}{cpu_rate:>12.0f}"
        )
    print(
        f"ratio bounced/Sisimai: {py_rate / perl_rate:.2f}x wall, {py_cpu_rate / perl_cpu_rate:.2f}x CPU"
        f"   (recipients found by bounced: {found}; load average now {os.getloadavg()[0]:.2f})"
    )
    parse_s, classify_s = split_rounds(messages, config, args.rounds)
    print(
        f"bounced split (wall medians): parse {parse_s:.4f} s ({n / parse_s:.0f} msgs/s), "
        f"classify {classify_s:.4f} s ({n / classify_s:.0f} msgs/s)"
    )
    print(f"command: .venv/bin/python benchmarks/parse_speed.py --rounds {args.rounds}")
    return 0


if __name__ == "__main__":
    import _figures  # --figures: the output becomes docs/figures.md's latest run

    raise SystemExit(_figures.run(main, "parse_speed"))
