"""Which hard bounces of the shared corpus suppress under `classify.preset` "default" and
"conservative", beside Sisimai's `hardbounce` flag (docs/classify.md).

    .venv/bin/python benchmarks/preset_difference.py [--corpus DIR]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import CORPUS_DIR, corpus_files, load_expected, messages_in

from bounced.apply.policy import hard_reasons_for
from bounced.classify.classify import classify_message
from bounced.config import ClassifyConfig
from bounced.model import BounceKind
from bounced.parse import parse_message


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS_DIR)
    args = parser.parse_args()
    if not (args.corpus / "expected.jsonl").exists():
        print(f"no corpus at {args.corpus}", file=sys.stderr)
        return 1
    conservative = hard_reasons_for("conservative") or frozenset()
    recipients = 0
    suppress = Counter[str]()
    only_default = Counter[str]()
    for path in corpus_files(args.corpus):
        for raw in messages_in(path):
            for item in classify_message(parse_message(raw), ClassifyConfig()):
                recipients += 1
                if item.kind is not BounceKind.HARD:
                    continue
                suppress["default"] += 1
                if item.reason in conservative:
                    suppress["conservative"] += 1
                else:
                    only_default[item.reason.value] += 1
    sisimai = sum(row.hardbounce for row in load_expected(args.corpus))
    print(f"recipients classified: {recipients}")
    print(f"suppressing hard bounces, preset default: {suppress['default']}")
    print(f"suppressing hard bounces, preset conservative: {suppress['conservative']}")
    print(f"Sisimai hardbounce=true rows: {sisimai}")
    print("hard under default only: " + ", ".join(f"{r} {n}" for r, n in only_default.most_common()))
    return 0


if __name__ == "__main__":
    import _figures  # --figures: the output becomes docs/figures.md's latest run

    raise SystemExit(_figures.run(main, "preset_difference"))
