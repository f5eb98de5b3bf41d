"""The analyser's worker processes: same answers as inline, and a dead worker loses nothing."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import pickle
import signal
from pathlib import Path

import pytest

from bounced.apply.analyse import AnalysisOutcome, analyse, analyse_many
from bounced.apply.workers import WORKER_NICENESS, Analyser
from bounced.config import ClassifyConfig
from tests.apply.bounce_messages import arf, dsn, plain

CONFIG = ClassifyConfig()


def corpus_messages(corpus: Path) -> list[bytes]:
    files = sorted(
        {json.loads(line)["file"] for line in (corpus / "expected.jsonl").read_text().splitlines()}
    )
    return [(corpus / name).read_bytes() for name in files]


def written_messages() -> list[bytes]:
    return [
        dsn("gone@example.org", "5.1.1", "550 5.1.1 User unknown"),
        dsn("full@example.org", "4.2.2", "452 4.2.2 Mailbox full", "delayed"),
        arf("angry@example.org"),
        plain(),
        b"",
        b"\x00\x01 binary junk",
    ]


def test_an_analysis_pickles_and_says_what_it_found() -> None:
    analyses = analyse_many(written_messages(), CONFIG)
    assert pickle.loads(pickle.dumps(analyses)) == analyses
    assert [a.outcome for a in analyses] == [AnalysisOutcome.PARSED] * 4 + [AnalysisOutcome.UNPARSEABLE] * 2
    assert analyses[0].bounce_id == "<bounce.1@mx.sender.test>"
    assert [c.kind.value for c in analyses[0].classified] == ["hard"]
    assert analyse(b"", CONFIG).error == "no message header found"


async def test_small_batches_and_zero_workers_run_inline() -> None:
    raws = written_messages() * 4
    inline = Analyser(workers=0, min_batch=1)
    small = Analyser(workers=1, min_batch=len(raws) + 1)
    assert await inline.analyse_all(raws, CONFIG) == analyse_many(raws, CONFIG)
    assert await small.analyse_all(raws, CONFIG) == analyse_many(raws, CONFIG)
    assert inline.pool_batches == small.pool_batches == 0 and multiprocessing.active_children() == []
    await inline.close()
    await small.close()


@pytest.mark.corpus
async def test_the_pool_gives_what_inline_gives_over_the_corpus(corpus: Path) -> None:
    raws = corpus_messages(corpus)
    analyser = Analyser(workers=2, min_batch=16)
    try:
        pooled = await analyser.analyse_all(raws, CONFIG)
    finally:
        await analyser.close()
    assert analyser.pool_batches == 1 and analyser.broken_pools == 0
    assert pooled == analyse_many(raws, CONFIG)
    assert multiprocessing.active_children() == []  # close() stopped the workers


async def test_a_killed_worker_loses_nothing_and_the_pool_comes_back() -> None:
    # (the workers also run at a lower CPU priority than the listener)
    raws = written_messages() * 20
    expected = analyse_many(raws, CONFIG)
    analyser = Analyser(workers=1, min_batch=2)
    try:
        # killed while the batch is in flight (starting up or analysing)
        in_flight = asyncio.create_task(analyser.analyse_all(raws, CONFIG))
        while not multiprocessing.active_children():
            await asyncio.sleep(0)
        [worker] = multiprocessing.active_children()
        assert worker.pid is not None
        os.kill(worker.pid, signal.SIGKILL)
        assert await in_flight == expected  # analysed inline instead
        assert analyser.broken_pools == 1 and analyser.pool_batches == 0
        # the next batch gets a new pool
        assert await analyser.analyse_all(raws, CONFIG) == expected
        assert analyser.pool_batches == 1
        # killed while idle: noticed at the next batch, same treatment
        [worker] = multiprocessing.active_children()
        assert worker.pid is not None
        ours = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, worker.pid) == min(19, ours + WORKER_NICENESS)
        os.kill(worker.pid, signal.SIGKILL)
        await asyncio.to_thread(worker.join, 10)
        assert await analyser.analyse_all(raws, CONFIG) == expected
        assert analyser.broken_pools == 2
    finally:
        await analyser.close()
