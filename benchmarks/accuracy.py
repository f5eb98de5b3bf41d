"""Score parse + classify against Sisimai's answers in the shared corpus.

    .venv/bin/python benchmarks/accuracy.py [--misses] [--corpus DIR]

Metrics (each a fraction of the expected rows it applies to; a recipient we did not
find counts as a miss in every metric):
- recall / precision: per file, the multiset of our recipients against Sisimai's.
- status_class: first digit of our enhanced status (else of our reply code, else the
  class our action implies: failed 5, delayed 4, delivered 2) against
  Sisimai's, over rows where Sisimai has a status.
- status_exact: our enhanced status equals Sisimai's, over rows where Sisimai's status is
  not its own stand-in (`status_is_pseudo`).
- reply_code: over rows where Sisimai has a reply code.
- action: over rows where Sisimai has an action.
- reason: K's classifier reason equals Sisimai's (None when the classifier is absent).

Generalisation: rules are code, so nothing can be re-tuned per fold; instead every file
belongs to a family (the MTA or provider named by its file name, `lhost-exim-*` ->
`lhost-exim`), each family is scored on its own, and the macro average over families is
printed beside the whole-corpus figure. A rule set that memorised a few big families shows
a gap between the two. `tests/parse/test_no_corpus_names.py` checks that no parser or
classifier rule names a corpus file.

Deliberate differences from Sisimai (docs/classify.md, "Where we differ from Sisimai on
purpose") are misses in the raw figures and are also counted on their own line, with the
figure they would give if excluded.

`score(corpus_dir)` returns these as a dict (see `score`) for the CI floor test.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import CORPUS_DIR, ExpectedRow, expected_by_file, messages_in

from bounced.model import Action, Failure, ParsedMessage
from bounced.parse import parse_message

__all__ = ["METRICS", "family_of", "score"]

METRICS = ("recall", "precision", "status_class", "status_exact", "reply_code", "action", "reason")


_FAMILY_RE = re.compile(r"^(?:.*/)?(.+?)(?:[-_]\d+)?(?:\.[A-Za-z0-9]+)?$")


def family_of(name: str) -> str:
    """`emails/lhost-exim-01.eml` -> `lhost-exim`; `postfix_03.txt` -> `postfix`."""
    m = _FAMILY_RE.match(name)
    return m.group(1) if m else name


def _deliberate(metric: str, row: ExpectedRow, got: object) -> str | None:
    """The name of a documented, deliberate difference from Sisimai this miss is, if any."""
    if metric == "action" and row.action == "delayed" and got == "failed" and row.reason == "expired":
        # Sisimai turns every expiry into "delayed"; an expiry is final here (docs/classify.md).
        return "expired-stays-failed"
    return None


def _classifier() -> Callable[[ParsedMessage], list[str]] | None:
    """K's classifier, if it is importable yet: parsed -> reason per failure."""
    try:
        from bounced.classify import classify_message
        from bounced.config import ClassifyConfig
    except ImportError:
        return None
    config = ClassifyConfig()

    def reasons(parsed: ParsedMessage) -> list[str]:
        return [str(cf.classification.reason) for cf in classify_message(parsed, config)]

    return reasons


def _match(rows: list[ExpectedRow], failures: list[Failure]) -> list[tuple[ExpectedRow, int | None]]:
    """Pair each expected row with the index of one of our failures (same address, case-insensitive)."""
    free: dict[str, list[int]] = defaultdict(list)
    for i, f in enumerate(failures):
        free[f.recipient.strip().lower()].append(i)
    pairs: list[tuple[ExpectedRow, int | None]] = []
    for row in rows:
        bucket = free.get(row.recipient.strip().lower())
        pairs.append((row, bucket.pop(0) if bucket else None))
    return pairs


def _status_class(f: Failure) -> str:
    if f.status:
        return f.status[0]
    if f.reply_code:
        return str(f.reply_code)[0]
    # No code at all (prose-only bounces): the parser's action still states the class.
    return {"failed": "5", "delayed": "4", "delivered": "2"}.get(str(f.action), "")


# Sisimai (Debian's libsisimai-perl) over the same files, for the side-by-side figures.
_SISIMAI = r"""
use strict; use warnings; use JSON::PP; use Sisimai;
my $json = JSON::PP->new->canonical;
for my $path (@ARGV) {
    open(my $fh, '<:raw', $path) or die "cannot read $path"; local $/; my $text = <$fh>; close($fh);
    my $r = Sisimai->make(\$text, delivered => 1, vacation => 1) || [];
    for my $d (@$r) {
        print $json->encode({file => $path, recipient => $d->recipient->address, reason => $d->reason,
            status => $d->deliverystatus, action => $d->action, replycode => $d->replycode}), "\n";
    }
}
"""


def sisimai_engine(corpus_dir: Path, names: list[str]) -> Callable[[str], tuple[list[Failure], list[str]]]:
    """Sisimai's answers per file, as Failures and reasons (one Perl run for all files)."""
    out = subprocess.run(
        ["perl", "-e", _SISIMAI, *(str(corpus_dir / n) for n in names)],
        capture_output=True,
        text=True,
        check=True,
    )
    answers: dict[str, tuple[list[Failure], list[str]]] = {n: ([], []) for n in names}
    for line in out.stdout.splitlines():
        row = json.loads(line)
        name = Path(row["file"]).relative_to(corpus_dir).as_posix()
        action = str(row.get("action") or "failed")
        failure = Failure(
            recipient=str(row["recipient"]),
            action=Action(action) if action in Action._value2member_map_ else Action.FAILED,
            status=str(row.get("status") or "") or None,
            reply_code=int(row["replycode"]) if str(row.get("replycode") or "").isdigit() else None,
        )
        answers[name][0].append(failure)
        answers[name][1].append(str(row["reason"]))
    return lambda name: answers[name]


def score(
    corpus_dir: Path = CORPUS_DIR, engine: Callable[[str], tuple[list[Failure], list[str]]] | None = None
) -> dict[str, Any]:
    """Score the parser (and classifier) on `corpus_dir`.

    Returns {"files", "expected", "found", "matched", "errors", metric: float | None for
    each of METRICS, "counts": {metric: (hits, total)}, "misses": [dict], "by_engine":
    {engine: Counter(metric -> misses)}}.
    """
    grouped = expected_by_file(corpus_dir)
    classify = _classifier()
    hits: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    fam_hits: dict[str, Counter[str]] = defaultdict(Counter)
    fam_totals: dict[str, Counter[str]] = defaultdict(Counter)
    deliberate: Counter[tuple[str, str]] = Counter()
    misses: list[dict[str, Any]] = []
    by_engine: dict[str, Counter[str]] = defaultdict(Counter)
    found = matched = errors = 0

    def tally(metric: str, family: str, ok: bool) -> None:
        totals[metric] += 1
        fam_totals[family][metric] += 1
        if ok:
            hits[metric] += 1
            fam_hits[family][metric] += 1

    def record(metric: str, row: ExpectedRow, ok: bool, want: object, got: object) -> None:
        tally(metric, family_of(row.file), ok)
        if ok:
            return
        if (why := _deliberate(metric, row, got)) is not None:
            deliberate[(metric, why)] += 1
        by_engine[row.engine][metric] += 1
        misses.append(
            {
                "file": row.file,
                "engine": row.engine,
                "metric": metric,
                "recipient": row.recipient,
                "expected": want,
                "got": got,
            }
        )

    for name in sorted(grouped):
        rows = grouped[name]
        failures: list[Failure] = []
        reasons: list[str] = []
        if engine is not None:  # another parser's answers (the Sisimai peer)
            failures, reasons = engine(name)
        for raw in (
            messages_in(corpus_dir / name) if engine is None else []
        ):  # an mbox file holds several messages
            try:
                parsed = parse_message(raw)
            except Exception as exc:  # a crash is a result to report here, not to hide
                errors += 1
                misses.append(
                    {
                        "file": name,
                        "engine": rows[0].engine,
                        "metric": "crash",
                        "recipient": "",
                        "expected": "",
                        "got": repr(exc),
                    }
                )
                continue
            failures.extend(parsed.failures)
            got = classify(parsed) if classify is not None else []
            reasons.extend(got + [""] * (len(parsed.failures) - len(got)))
        found += len(failures)
        pairs = _match(rows, failures)
        used = {i for _, i in pairs if i is not None}
        for i, f in enumerate(failures):
            tally("precision", family_of(name), i in used)
            if i not in used:
                by_engine[rows[0].engine]["precision"] += 1
                misses.append(
                    {
                        "file": name,
                        "engine": rows[0].engine,
                        "metric": "precision",
                        "recipient": f.recipient,
                        "expected": "",
                        "got": f.recipient,
                    }
                )
        for row, i in pairs:
            f = failures[i] if i is not None else None
            record("recall", row, f is not None, row.recipient, None)
            if f is None:
                for metric, applies in (
                    ("status_class", bool(row.status)),
                    ("status_exact", bool(row.status) and not row.status_is_pseudo),
                    ("reply_code", bool(row.replycode)),
                    ("action", bool(row.action)),
                    ("reason", classify is not None),
                ):
                    if applies:
                        tally(metric, family_of(name), False)
                continue
            matched += 1
            if row.status:
                record("status_class", row, _status_class(f) == row.status[0], row.status, f.status)
                if not row.status_is_pseudo:
                    record("status_exact", row, f.status == row.status, row.status, f.status)
            if row.replycode:
                record(
                    "reply_code", row, str(f.reply_code or "") == row.replycode, row.replycode, f.reply_code
                )
            if row.action:
                record("action", row, str(f.action) == row.action, row.action, str(f.action))
            if classify is not None:
                got = reasons[i] if i < len(reasons) else None
                record("reason", row, got == row.reason, row.reason, got)

    result: dict[str, Any] = {
        "files": len(grouped),
        "expected": sum(len(r) for r in grouped.values()),
        "found": found,
        "matched": matched,
        "errors": errors,
        "counts": {m: (hits[m], totals[m]) for m in METRICS},
        "misses": misses,
        "by_engine": {k: dict(v) for k, v in sorted(by_engine.items())},
        "deliberate": dict(deliberate),
        "families": {
            fam: {m: (fam_hits[fam][m], fam_totals[fam][m]) for m in METRICS if fam_totals[fam][m]}
            for fam in sorted(fam_totals)
        },
    }
    for m in METRICS:
        result[m] = (hits[m] / totals[m]) if totals[m] else None
    # Macro average: every family weighs the same, however many files it has.
    result["family_mean"] = {
        m: _mean([h / t for counts in result["families"].values() if m in counts for h, t in [counts[m]]])
        for m in METRICS
    }
    if classify is None:
        result["reason"] = None
        result["family_mean"]["reason"] = None
    return result


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _print_table(result: dict[str, Any], peer: dict[str, Any] | None) -> None:
    print(
        f"files {result['files']}  expected recipients {result['expected']}  found {result['found']}  "
        f"matched {result['matched']}  crashes {result['errors']}"
    )
    print(f"families {len(result['families'])} (file name without its number: lhost-exim-01 -> lhost-exim)")
    print("bounced vs the reference (Sisimai's answers in expected.jsonl); beside it, Debian's Sisimai 4.25")
    print(f"{'':<14}{'--------- bounced ---------':>30}{'--- Sisimai (Debian) ---':>26}")
    head = (
        f"{'metric':<14}{'whole':>9}{'hits':>7}{'total':>7}{'family avg':>12}{'whole':>13}{'family avg':>12}"
    )
    print(head + f"{'worst family (bounced)':>32}")
    for m in METRICS:
        h, t = result["counts"][m]
        scored = [(h2 / t2, f) for f, c in result["families"].items() if m in c for h2, t2 in [c[m]]]
        worst = min(scored) if scored else None
        worst_shown = f"{worst[1]} {100 * worst[0]:.0f} %" if worst else ""
        theirs = f"{_pct(peer[m]):>13}{_pct(peer['family_mean'][m]):>12}" if peer else f"{'-':>13}{'-':>12}"
        print(
            f"{m:<14}{_pct(result[m]):>9}{h:>7}{t:>7}{_pct(result['family_mean'][m]):>12}{theirs}{worst_shown:>32}"
        )
    if result["deliberate"]:
        print("\ndeliberate differences from Sisimai (docs/classify.md), counted among the misses above:")
        for (metric, why), n in sorted(result["deliberate"].items()):
            h, t = result["counts"][metric]
            print(f"  {metric:<12}{why:<26}{n:>4}   {metric} without them: {100 * (h + n) / t:.1f} %")
    if result["by_engine"]:
        print("\nmisses by engine:")
        for engine, counts in sorted(result["by_engine"].items(), key=lambda kv: -sum(kv[1].values())):
            detail = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
            print(f"  {engine:<22}{detail}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=CORPUS_DIR)
    ap.add_argument("--misses", action="store_true", help="list every miss")
    ap.add_argument("--metric", help="with --misses: only this metric")
    ap.add_argument("--families", action="store_true", help="print every family's figures")
    ap.add_argument("--no-peer", action="store_true", help="skip the Sisimai (Perl) side-by-side run")
    args = ap.parse_args(argv)
    if not (args.corpus / "expected.jsonl").is_file():
        print(f"corpus not found at {args.corpus}", file=sys.stderr)
        return 2
    result = score(args.corpus)
    peer = None
    if not args.no_peer:
        try:
            names = sorted(expected_by_file(args.corpus))
            peer = score(args.corpus, sisimai_engine(args.corpus, names))
        except (OSError, subprocess.CalledProcessError) as exc:
            print(f"Sisimai peer not run ({exc}); install libsisimai-perl", file=sys.stderr)
    _print_table(result, peer)
    if args.families:
        print("\nper family (hits/total):")
        for fam, counts in result["families"].items():
            print(f"  {fam:<24}" + "  ".join(f"{m} {h}/{t}" for m, (h, t) in counts.items()))
    if args.misses:
        print("\nmisses:")
        for m in result["misses"]:
            if args.metric and m["metric"] != args.metric:
                continue
            print(
                f"  {m['metric']:<13}{m['file']:<34}{m['recipient']:<40} "
                f"want {m['expected']!s:<8} got {m['got']}"
            )
    print(f"\ncommand: .venv/bin/python benchmarks/accuracy.py{' --misses' if args.misses else ''}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
