"""Load the shared bounce corpus (`../shared/corpus`, read-only) and its expected rows."""

from __future__ import annotations

import json
import mailbox
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CORPUS_DIR", "ExpectedRow", "corpus_files", "expected_by_file", "load_expected", "messages_in"]


def _find_corpus() -> Path:
    """$BOUNCED_CORPUS, else `shared/corpus` beside the checkout (or beside its worktree folder)."""
    if os.environ.get("BOUNCED_CORPUS"):
        return Path(os.environ["BOUNCED_CORPUS"])
    repo = Path(__file__).resolve().parents[1]
    candidates = [repo.parent / "shared" / "corpus", repo.parent.parent / "shared" / "corpus"]
    return next((c for c in candidates if (c / "expected.jsonl").is_file()), candidates[0])


CORPUS_DIR = _find_corpus()


@dataclass(frozen=True, slots=True)
class ExpectedRow:
    """One bounced recipient as Sisimai reports it (see the corpus README)."""

    file: str
    recipient: str
    status: str
    status_is_pseudo: bool
    replycode: str
    action: str
    reason: str
    hardbounce: bool
    feedbacktype: str
    engine: str


def load_expected(corpus_dir: Path = CORPUS_DIR) -> list[ExpectedRow]:
    rows: list[ExpectedRow] = []
    with (corpus_dir / "expected.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            d = json.loads(line)
            rows.append(
                ExpectedRow(
                    file=d["file"],
                    recipient=d["recipient"],
                    status=str(d.get("status") or ""),
                    status_is_pseudo=bool(d.get("status_is_pseudo")),
                    replycode=str(d.get("replycode") or ""),
                    action=str(d.get("action") or ""),
                    reason=str(d.get("reason") or ""),
                    hardbounce=bool(d.get("hardbounce")),
                    feedbacktype=str(d.get("feedbacktype") or ""),
                    engine=str(d.get("engine") or ""),
                )
            )
    return rows


def expected_by_file(corpus_dir: Path = CORPUS_DIR) -> dict[str, list[ExpectedRow]]:
    grouped: dict[str, list[ExpectedRow]] = defaultdict(list)
    for row in load_expected(corpus_dir):
        grouped[row.file].append(row)
    return dict(grouped)


def corpus_files(corpus_dir: Path = CORPUS_DIR) -> list[Path]:
    """Every message file of the corpus, sorted (those listed in expected.jsonl first)."""
    listed = sorted(expected_by_file(corpus_dir))
    paths = [corpus_dir / name for name in listed]
    seen = set(listed)
    paths += sorted(
        p for p in (corpus_dir / "emails").glob("*.eml") if p.relative_to(corpus_dir).as_posix() not in seen
    )
    return paths


def messages_in(path: Path) -> list[bytes]:
    """The raw messages of one corpus file: an mbox (leading "From " line) may hold several."""
    raw = path.read_bytes()
    if not raw.startswith(b"From "):
        return [raw]
    box = mailbox.mbox(str(path), create=False)
    try:
        return [box.get_bytes(key) for key in box.iterkeys()] or [raw]
    finally:
        box.close()
