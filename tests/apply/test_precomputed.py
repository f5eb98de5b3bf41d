"""What the analysis precomputes for the daemon's process (text keys, From domain) is the
normaliser's and the From header's own; and a batch recorded through worker processes or
inline leaves identical rows."""

from __future__ import annotations

import pickle
import sqlite3
from collections.abc import Sequence
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bounced.apply.analyse import Analysis, AnalysisOutcome, analyse_many
from bounced.apply.batch import apply_batch
from bounced.apply.policy import Precomputed, plan_events, precompute
from bounced.apply.workers import Analyser
from bounced.clock import FakeClock
from bounced.config import ClassifyConfig
from bounced.config.storage import StorageConfig
from bounced.model import (
    Action,
    BounceKind,
    Classification,
    ClassifiedFailure,
    Failure,
    MessageType,
    OriginalMessage,
    ParsedMessage,
    Reason,
)
from bounced.report.bounce_text import normalise_bounce_text
from bounced.store import open_store
from tests.apply.test_apply_batch import RECEIVED, TokenAttributor, config, dump, messages, spool_all
from tests.apply.test_workers import corpus_messages, written_messages

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def check_precomputed(analyses: Sequence[Analysis]) -> int:
    """Asserts, per parsed analysis, that the precomputed values are the normaliser's and
    policy's own; returns how many events were checked."""
    checked = 0
    for analysis in analyses:
        if analysis.outcome is not AnalysisOutcome.PARSED:
            assert analysis.precomputed is None
            continue
        assert analysis.parsed is not None and analysis.precomputed is not None
        classified = list(analysis.classified)
        with_keys = plan_events(classified, analysis.parsed, None, "record", NOW, 1, analysis.precomputed)
        assert all(e.from_domain == analysis.precomputed.from_domain for e in with_keys)
        for event, key in zip(with_keys, analysis.precomputed.text_keys, strict=True):
            assert event.text_key == key == normalise_bounce_text(event.diagnostic, event.reply_code)
            checked += 1
    return checked


def test_precomputed_keys_and_from_domain_are_the_normalisers_and_policys() -> None:
    analyses = analyse_many(written_messages() + messages(), ClassifyConfig())
    assert check_precomputed(analyses) >= 10
    assert {a.precomputed.from_domain for a in analyses if a.precomputed} >= {"sender.test"}


@pytest.mark.corpus
def test_precomputed_over_the_corpus(corpus: Path) -> None:
    analyses = analyse_many(corpus_messages(corpus), ClassifyConfig())
    assert check_precomputed(analyses) > 250


def test_precompute_keys_carry_the_reply_code_and_the_from_domain() -> None:
    failure = Failure("a@example.org", reply_code=550, diagnostic="User unknown: a@example.org")
    item = ClassifiedFailure(failure, Classification(BounceKind.HARD, Reason.USERUNKNOWN))
    parsed = ParsedMessage(
        MessageType.DSN, (failure,), OriginalMessage(from_address="Shop <news@Shop.Example>")
    )
    assert precompute([item], parsed) == Precomputed(("550 User unknown: <EMAIL>",), "shop.example")


def test_plan_events_refuses_keys_that_do_not_match_the_failures() -> None:
    item = ClassifiedFailure(Failure("a@example.org"), Classification(BounceKind.HARD, Reason.USERUNKNOWN))
    parsed = ParsedMessage(MessageType.DSN, (item.failure,))
    with pytest.raises(ValueError, match="2 text keys for 1 failures"):
        plan_events([item], parsed, None, "record", NOW, 1, Precomputed(("x", "y"), None))


def test_the_analysis_values_pickle_by_constructor_with_every_field() -> None:
    failure = Failure(
        "a@example.org", Action.DELAYED, "4.2.2", 452, "full", "mx", "hint", "abuse", "RCPT", True, "smtp"
    )
    original = OriginalMessage("<m@x>", "f@x", "m-1", "rp@x", "to@x")
    parsed = ParsedMessage(
        MessageType.ARF, (failure,), original, "subj", ("to@x",), ("defect",), ("max_parse_bytes",)
    )
    classification = Classification(BounceKind.SOFT, Reason.MAILBOXFULL, 60, "rule", "status:4.2.2")
    classified = ClassifiedFailure(failure, classification)
    precomputed = Precomputed(("452 full",), "x")
    analysis = Analysis(AnalysisOutcome.PARSED, parsed, (classified,), "<b@x>", "e", "s", "t", precomputed)
    for value in (failure, original, parsed, classification, classified, precomputed, analysis):
        cls = type(value)
        assert cls.__reduce__(value)[0] is cls  # type: ignore[operator]
        for f in fields(value):  # every field set (not its default), so a lost one shows
            assert getattr(value, f.name) != f.default, f"{cls.__name__}.{f.name}"
        copy = pickle.loads(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))
        assert copy == value and type(copy) is cls


async def apply_all(db: Path, raws: Sequence[bytes], analyser: Analyser) -> None:
    store = await open_store(StorageConfig(path=str(db)))
    try:
        pending = await spool_all(store, raws)
        clock = FakeClock(RECEIVED)
        for start in range(0, len(pending), 100):
            window = pending[start : start + 100]
            results = await apply_batch(
                store, window, config(), clock, TokenAttributor("signed@example.org"), analyser
            )
            assert not [r for r in results if isinstance(r, Exception)]
    finally:
        await analyser.close()
        await store.close()


async def check_paths_agree(tmp_path: Path, raws: Sequence[bytes]) -> int:
    pooled = Analyser(workers=1, min_batch=2)
    await apply_all(tmp_path / "pool.sqlite3", raws, pooled)
    await apply_all(tmp_path / "inline.sqlite3", raws, Analyser(workers=0))
    assert pooled.pool_batches >= 1 and pooled.broken_pools == 0
    tables = dump(tmp_path / "pool.sqlite3")
    assert tables == dump(tmp_path / "inline.sqlite3")
    with sqlite3.connect(tmp_path / "pool.sqlite3") as conn:
        rows = conn.execute("SELECT diagnostic, reply_code, text_key FROM bounce_events").fetchall()
    assert all(key == normalise_bounce_text(diagnostic, code) for diagnostic, code, key in rows)
    return len(rows)


async def test_worker_and_inline_paths_record_identical_rows(tmp_path: Path) -> None:
    assert await check_paths_agree(tmp_path, messages() * 3) == 6


@pytest.mark.corpus
async def test_worker_and_inline_paths_agree_over_the_corpus(tmp_path: Path, corpus: Path) -> None:
    assert await check_paths_agree(tmp_path, corpus_messages(corpus)) > 250
