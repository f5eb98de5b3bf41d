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

Families: every file belongs to one (the MTA or provider named by its file name,
`lhost-exim-*` -> `lhost-exim`; 70 in the shared corpus). "family avg" is the macro average
over families (each weighs the same), with every rule in force.

Leave-one-family-out (LOFO): the rules were written with every family in view, so the
family average is not a held-out figure. Rules cannot be re-learnt per fold, but they can be
switched off: every rule that can decide a reason has a name (`Classification.reason_rule`,
`bounced/classify/rules.py`) and a provenance (`bounced/classify/provenance.py`): either a
documented source (`doc:` tags: an RFC, an MTA's documented messages, Sisimai's module for
a reason or for an MTA or provider, verified by `tests/classify/test_rule_sources.py`), or
none (learnt from mail). From the run with every rule, each rule's support is the set of
families in which it is right at least once: it decided Sisimai's reason, or (reason-table
fragments) it matches the diagnostic and names Sisimai's reason even where an earlier rule
decided. In the fold that holds out family F, every undocumented rule whose support is
exactly {F} (it could only have been learnt from F) is switched off, and F is scored with
the rest. "LOFO" pools the held-out scores of all folds (comparable to "whole"); "LOFO fam"
averages them over families (comparable to "family avg"). Rules right in two or more
families stay on in every fold: a pattern seen in several MTAs' mail is the kind of rule the
project means to keep. Not covered: the order of the reason table and the decision code
(`bounced/classify/classify.py`), which were written with the whole corpus in view but
follow Sisimai's documented order (lib/Sisimai/Reason.pm); the parser's detectors, which
read formats (RFC 3464, ARF, SES JSON, the MTAs' documented transcripts) rather than per-MTA
phrases, have no per-family rules to switch off, so their LOFO figures equal the others.
`--lofo-rules` lists what each fold switched off. `tests/parse/test_no_corpus_names.py`
checks that no parser or classifier rule names a corpus file.

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

__all__ = ["METRICS", "family_of", "learnt_from", "rule_support", "score"]

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
    if metric == "reason" and row.reason == "mailererror" and got in ("userunknown", "hostunknown"):
        # "X-Unix; 67" (EX_NOUSER) is read by its sysexits.h name (bounced/classify/sysexits.py).
        return "sysexits-named-status"
    return None


Classify = Callable[[ParsedMessage], list[tuple[str, str]]]


def _classifier(rules: Any = None) -> Classify | None:
    """The classifier, if importable: parsed -> (reason, rules that decided it) per failure.
    `rules`: a `bounced.classify.rules.RuleSet` (all rules when None)."""
    try:
        from bounced.classify.classify import classify_message
        from bounced.classify.rules import DEFAULT_RULES
        from bounced.config import ClassifyConfig
    except ImportError:
        return None
    config = ClassifyConfig()
    ruleset = DEFAULT_RULES if rules is None else rules

    def reasons(parsed: ParsedMessage) -> list[tuple[str, str]]:
        return [
            (str(cf.classification.reason), cf.classification.reason_rule or "")
            for cf in classify_message(parsed, config, ruleset)
        ]

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


Engine = Callable[[str], tuple[list[Failure], list[str]]]


class _Answers:
    """One file's answers: failures found, reason and deciding rules per failure, crashes."""

    def __init__(self) -> None:
        self.failures: list[Failure] = []
        self.reasons: list[str] = []
        self.rules: list[str] = []
        self.crashes: list[str] = []


def _our_answers(corpus_dir: Path, name: str, classify: Classify | None) -> _Answers:
    answers = _Answers()
    for raw in messages_in(corpus_dir / name):  # an mbox file holds several messages
        try:
            parsed = parse_message(raw)
        except Exception as exc:  # a crash is a result to report here, not to hide
            answers.crashes.append(repr(exc))
            continue
        answers.failures.extend(parsed.failures)
        got = classify(parsed) if classify is not None else []
        got += [("", "")] * (len(parsed.failures) - len(got))
        answers.reasons.extend(reason for reason, _ in got)
        answers.rules.extend(rule for _, rule in got)
    return answers


class _Tally:
    """Hits and totals per metric, whole and per family, with the misses."""

    def __init__(self, with_reason: bool) -> None:
        self.with_reason = with_reason
        self.hits: Counter[str] = Counter()
        self.totals: Counter[str] = Counter()
        self.fam_hits: dict[str, Counter[str]] = defaultdict(Counter)
        self.fam_totals: dict[str, Counter[str]] = defaultdict(Counter)
        self.deliberate: Counter[tuple[str, str]] = Counter()
        self.misses: list[dict[str, Any]] = []
        self.by_engine: dict[str, Counter[str]] = defaultdict(Counter)
        self.found = self.matched = self.errors = 0
        # Per matched row: (family, its failure, rules that decided, Sisimai's reason, ours)
        self.decisions: list[tuple[str, Failure, str, str, str | None]] = []

    def count(self, metric: str, family: str, ok: bool) -> None:
        self.totals[metric] += 1
        self.fam_totals[family][metric] += 1
        if ok:
            self.hits[metric] += 1
            self.fam_hits[family][metric] += 1

    def miss(self, metric: str, name: str, engine: str, recipient: str, want: object, got: object) -> None:
        self.by_engine[engine][metric] += 1
        self.misses.append(
            {
                "file": name,
                "engine": engine,
                "metric": metric,
                "recipient": recipient,
                "expected": want,
                "got": got,
            }
        )

    def record(self, metric: str, row: ExpectedRow, ok: bool, want: object, got: object) -> None:
        self.count(metric, family_of(row.file), ok)
        if ok:
            return
        if (why := _deliberate(metric, row, got)) is not None:
            self.deliberate[(metric, why)] += 1
        self.miss(metric, row.file, row.engine, row.recipient, want, got)

    def add_file(self, name: str, rows: list[ExpectedRow], answers: _Answers) -> None:
        family, engine, failures = family_of(name), rows[0].engine, answers.failures
        for crash in answers.crashes:
            self.errors += 1
            self.miss("crash", name, engine, "", "", crash)
        self.found += len(failures)
        pairs = _match(rows, failures)
        used = {i for _, i in pairs if i is not None}
        for i, f in enumerate(failures):
            self.count("precision", family, i in used)
            if i not in used:
                self.miss("precision", name, engine, f.recipient, "", f.recipient)
        for row, i in pairs:
            f = failures[i] if i is not None else None
            self.record("recall", row, f is not None, row.recipient, None)
            if f is None:
                for metric, applies in (
                    ("status_class", bool(row.status)),
                    ("status_exact", bool(row.status) and not row.status_is_pseudo),
                    ("reply_code", bool(row.replycode)),
                    ("action", bool(row.action)),
                    ("reason", self.with_reason),
                ):
                    if applies:
                        self.count(metric, family, False)
                continue
            self.matched += 1
            if row.status:
                self.record("status_class", row, _status_class(f) == row.status[0], row.status, f.status)
                if not row.status_is_pseudo:
                    self.record("status_exact", row, f.status == row.status, row.status, f.status)
            if row.replycode:
                code = str(f.reply_code or "")
                self.record("reply_code", row, code == row.replycode, row.replycode, f.reply_code)
            if row.action:
                self.record("action", row, str(f.action) == row.action, row.action, str(f.action))
            if self.with_reason:
                got = answers.reasons[i] if i is not None and i < len(answers.reasons) else None
                self.record("reason", row, got == row.reason, row.reason, got)
                rule = answers.rules[i] if i < len(answers.rules) else ""
                self.decisions.append((family, f, rule, row.reason, got))
                if got != row.reason:
                    self.misses[-1]["rule"] = rule

    def family_counts(self) -> dict[str, dict[str, tuple[int, int]]]:
        return {
            fam: {
                m: (self.fam_hits[fam][m], self.fam_totals[fam][m])
                for m in METRICS
                if self.fam_totals[fam][m]
            }
            for fam in sorted(self.fam_totals)
        }


def score(corpus_dir: Path = CORPUS_DIR, engine: Engine | None = None, lofo: bool = True) -> dict[str, Any]:
    """Score the parser (and classifier) on `corpus_dir`.

    Returns {"files", "expected", "found", "matched", "errors", metric: float | None for
    each of METRICS, "counts": {metric: (hits, total)}, "family_mean": {metric: macro
    average}, "misses": [dict], "by_engine": {engine: {metric: misses}}, "families":
    {family: {metric: (hits, total)}}, "deliberate": {(metric, why): n}}; for our own
    parser with `lofo`, also "lofo" / "lofo_family_mean" (see the module docstring) and
    "lofo_disabled": {family: [rule names switched off to score it]}.
    """
    grouped = expected_by_file(corpus_dir)
    classify = _classifier() if engine is None else None
    tally = _Tally(with_reason=engine is not None or classify is not None)
    for name in sorted(grouped):
        if engine is not None:  # another parser's answers (the Sisimai peer)
            answers = _Answers()
            answers.failures, answers.reasons = engine(name)
        else:
            answers = _our_answers(corpus_dir, name, classify)
        tally.add_file(name, grouped[name], answers)

    families = tally.family_counts()
    result: dict[str, Any] = {
        "files": len(grouped),
        "expected": sum(len(r) for r in grouped.values()),
        "found": tally.found,
        "matched": tally.matched,
        "errors": tally.errors,
        "counts": {m: (tally.hits[m], tally.totals[m]) for m in METRICS},
        "misses": tally.misses,
        "by_engine": {k: dict(v) for k, v in sorted(tally.by_engine.items())},
        "deliberate": dict(tally.deliberate),
        "families": families,
    }
    for m in METRICS:
        result[m] = (tally.hits[m] / tally.totals[m]) if tally.totals[m] else None
    result["family_mean"] = _family_mean(families)
    if not tally.with_reason:
        result["reason"] = None
        result["family_mean"]["reason"] = None
    if engine is None and classify is not None and lofo:
        result.update(_leave_one_family_out(corpus_dir, grouped, tally, families))
    return result


def _family_mean(families: dict[str, dict[str, tuple[int, int]]]) -> dict[str, float | None]:
    """Macro average: every family weighs the same, however many files it has."""
    return {
        m: _mean([h / t for counts in families.values() if m in counts for h, t in [counts[m]]])
        for m in METRICS
    }


def rule_support(decisions: list[tuple[str, Failure, str, str, str | None]]) -> dict[str, set[str]]:
    """{rule name: families in which it is right at least once}.

    A rule is right on a recipient when it decided the reason and the reason is Sisimai's,
    or when it is a reason-table fragment that matches the recipient's diagnostic and names
    Sisimai's reason (a fragment later in the table than the one that decided could have
    been learnt from that text too); "user unknown" fragments also count where the answer
    is `filtered` (Sisimai reads the same words so after DATA).
    """
    from bounced.classify.diagnostic import normalise_text
    from bounced.classify.reason_table import REASON_TABLE
    from bounced.classify.reasons import phrase_rule_id

    fragments = [
        (phrase_rule_id(reason, fragment), reason.value, re.compile(fragment))
        for reason, _, section in REASON_TABLE
        for fragment in section
    ]
    support: dict[str, set[str]] = defaultdict(set)
    for family, failure, rules, want, got in decisions:
        if got == want:
            for rule in rules.split(" + "):
                if rule:
                    support[rule].add(family)
        text = normalise_text(failure.diagnostic)
        for name, reason, pattern in fragments:
            if (reason == want or (reason == "userunknown" and want == "filtered")) and pattern.search(text):
                support[name].add(family)
    return support


def learnt_from(support: dict[str, set[str]]) -> dict[str, list[str]]:
    """{family: the rules a fold holding it out switches off}: no documented source, and right
    in that family alone."""
    from bounced.classify.provenance import is_documented

    learnt: dict[str, list[str]] = defaultdict(list)
    for rule, families in support.items():
        if len(families) == 1 and not is_documented(rule):
            learnt[next(iter(families))].append(rule)
    return dict(learnt)


def _leave_one_family_out(
    corpus_dir: Path,
    grouped: dict[str, list[ExpectedRow]],
    whole: _Tally,
    families: dict[str, dict[str, tuple[int, int]]],
) -> dict[str, Any]:
    """Score each family with the rules that only it could have taught switched off."""
    from bounced.classify.rules import DEFAULT_RULES

    learnt = learnt_from(rule_support(whole.decisions))
    held_out: dict[str, dict[str, tuple[int, int]]] = dict(families)
    for family, rules in learnt.items():
        classify = _classifier(DEFAULT_RULES.without(rules))
        fold = _Tally(with_reason=True)
        for name in sorted(n for n in grouped if family_of(n) == family):
            fold.add_file(name, grouped[name], _our_answers(corpus_dir, name, classify))
        held_out[family] = fold.family_counts()[family]
    pooled: dict[str, float | None] = {}
    for m in METRICS:
        hits = sum(c[m][0] for c in held_out.values() if m in c)
        total = sum(c[m][1] for c in held_out.values() if m in c)
        pooled[m] = hits / total if total else None
    return {
        "lofo": pooled,
        "lofo_family_mean": _family_mean(held_out),
        "lofo_families": held_out,
        "lofo_disabled": {fam: sorted(rules) for fam, rules in sorted(learnt.items())},
    }


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _print_table(result: dict[str, Any], peer: dict[str, Any] | None) -> None:
    print(
        f"files {result['files']}  expected recipients {result['expected']}  found {result['found']}  "
        f"matched {result['matched']}  crashes {result['errors']}"
    )
    disabled = result.get("lofo_disabled", {})
    print(
        f"families {len(result['families'])} (file name without its number: lhost-exim-01 -> lhost-exim); "
        f"LOFO switched off {sum(len(v) for v in disabled.values())} rules in {len(disabled)} folds"
    )
    print("bounced vs the reference (Sisimai's answers in expected.jsonl); beside it, Debian's Sisimai 4.25")
    print(f"{'':<14}{'------------------- bounced -------------------':>58}{'-- Sisimai 4.25 --':>24}")
    head = (
        f"{'metric':<14}{'whole':>9}{'hits':>7}{'total':>7}{'family avg':>12}{'LOFO':>10}{'LOFO fam':>10}"
        f"{'whole':>12}{'family avg':>12}"
    )
    print(head + f"{'worst family (bounced)':>30}")
    for m in METRICS:
        h, t = result["counts"][m]
        scored = [(h2 / t2, f) for f, c in result["families"].items() if m in c for h2, t2 in [c[m]]]
        worst = min(scored) if scored else None
        worst_shown = f"{worst[1]} {100 * worst[0]:.0f} %" if worst else ""
        theirs = f"{_pct(peer[m]):>12}{_pct(peer['family_mean'][m]):>12}" if peer else f"{'-':>12}{'-':>12}"
        lofo = result.get("lofo", {}).get(m)
        lofo_fam = result.get("lofo_family_mean", {}).get(m)
        print(
            f"{m:<14}{_pct(result[m]):>9}{h:>7}{t:>7}{_pct(result['family_mean'][m]):>12}"
            f"{_pct(lofo):>10}{_pct(lofo_fam):>10}{theirs}{worst_shown:>30}"
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
    ap.add_argument("--lofo-rules", action="store_true", help="list the rules each LOFO fold switched off")
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
    if args.lofo_rules:
        print("\nrules switched off in each leave-one-family-out fold (undocumented, right only there):")
        for fam, rules in result.get("lofo_disabled", {}).items():
            before, after = result["families"][fam].get("reason"), result["lofo_families"][fam].get("reason")
            print(
                f"  {fam:<24} reason {before[0]}/{before[1]} -> {after[0]}/{after[1]}"
                if before and after
                else fam
            )
            for rule in rules:
                print(f"      {rule}")
    if args.misses:
        print("\nmisses:")
        for m in result["misses"]:
            if args.metric and m["metric"] != args.metric:
                continue
            print(
                f"  {m['metric']:<13}{m['file']:<34}{m['recipient']:<40} "
                f"want {m['expected']!s:<8} got {m['got']}" + (f"  [{m['rule']}]" if m.get("rule") else "")
            )
    print(f"\ncommand: .venv/bin/python benchmarks/accuracy.py{' --misses' if args.misses else ''}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
