"""Every message of the shared corpus parses cleanly (accuracy itself: tests/test_accuracy_floors.py)."""

from __future__ import annotations

import mailbox
from pathlib import Path

from bounced.model import MessageType
from bounced.parse import parse_message


def _messages(path: Path) -> list[bytes]:
    raw = path.read_bytes()
    if not raw.startswith(b"From "):
        return [raw]
    box = mailbox.mbox(str(path), create=False)
    try:
        return [box.get_bytes(key) for key in box.iterkeys()]
    finally:
        box.close()


def test_corpus_parses_without_the_last_resort_guard(corpus: Path) -> None:
    files = sorted((corpus / "emails").glob("*.eml"))
    assert files, f"no messages under {corpus / 'emails'}"
    kinds: dict[MessageType, int] = {}
    for path in files:
        for raw in _messages(path):
            parsed = parse_message(raw)
            assert not any(d.startswith("parse error") for d in parsed.defects), (path.name, parsed.defects)
            assert parse_message(raw) == parsed  # deterministic
            kinds[parsed.message_type] = kinds.get(parsed.message_type, 0) + 1
    # The corpus is all bounces, complaints and auto-replies: nearly none should come out "none".
    assert kinds.get(MessageType.NONE, 0) <= len(files) // 50, kinds
    assert kinds.get(MessageType.ARF, 0) >= 5 and kinds.get(MessageType.AUTOREPLY, 0) >= 3, kinds
