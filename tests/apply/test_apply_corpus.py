"""Every message of the shared bounce corpus through apply_intake into a real store.

Not an accuracy measure (that is benchmarks/accuracy.py): this checks that real-world input
never makes apply raise, that every message leaves the pending state, and that what the
store holds agrees with what apply reported.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bounced.apply.batch import apply_intake
from bounced.clock import FakeClock
from bounced.config import Config
from bounced.config.loader import build
from bounced.model import BounceKind, IntakeState
from bounced.store.sqlite import SQLiteStore
from tests.rawsql import rows, scalar

pytestmark = pytest.mark.corpus

RECEIVED = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


async def test_whole_corpus_applies_cleanly(corpus: Path, store: SQLiteStore) -> None:
    files = sorted(
        {json.loads(line)["file"] for line in (corpus / "expected.jsonl").read_text().splitlines()}
    )
    config = build(Config, {"verp": {"unsigned_bounces": "suppress"}})
    clock = FakeClock(RECEIVED)
    states: Counter[IntakeState] = Counter()
    kinds: Counter[BounceKind] = Counter()
    suppressed: set[str] = set()
    for name in files:
        raw = (corpus / name).read_bytes()
        intake_id = await store.spool(raw, "", ["bounce@bounces.test"], "127.0.0.1", RECEIVED)
        intake = await store.get_intake(intake_id)
        assert intake is not None
        result = await apply_intake(store, intake, config, clock)
        states[result.state] += 1
        kinds.update(e.kind for e in result.written)
        suppressed.update(result.suppressed)

    assert await store.pending_intake() == []
    assert states[IntakeState.FAILED] == 0, "parser or classifier crashed on corpus messages"
    assert states[IntakeState.UNPARSEABLE] == 0, "real bounces were judged not to be mail"
    assert states[IntakeState.APPLIED] == len(files)
    assert kinds[BounceKind.HARD] > 0 and kinds[BounceKind.SOFT] > 0 and kinds[BounceKind.COMPLAINT] > 0
    stored = {r[0] for r in await rows(store, "SELECT address FROM suppressions")}
    hard_profiles = await scalar(store, "SELECT COUNT(*) FROM profiles WHERE status = 'hard_bounced'")
    event_count = await scalar(store, "SELECT COUNT(*) FROM bounce_events")
    assert stored == suppressed
    assert 0 < hard_profiles <= len(stored)
    assert event_count == sum(kinds.values())
