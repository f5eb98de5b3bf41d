"""Analysing batches of messages in worker processes, off the event loop's core.

Parsing and classifying are pure CPU (about 1 ms a message): in the daemon's process they
compete with the SMTP listener for one core. `Analyser` sends batches of at least
`min_batch` messages to a `ProcessPoolExecutor` started lazily with the "forkserver" context
(plain fork would copy a process that runs threads: aiosqlite's, the loop's executor), and
runs smaller batches inline, so tests and a quiet daemon never pay the start-up.

A worker that dies (killed, out of memory) breaks the pool: that batch is analysed inline,
the pool is dropped and a new one is started for the next batch; a pool that cannot work at
all (workers fail to start) is logged and the analyser stays inline. Nothing is lost, because
analysing has no side effects: recording happens afterwards, in the daemon's process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from bounced.apply.analyse import Analysis, analyse_many
from bounced.config.classify import ClassifyConfig
from bounced.logfmt import kv

__all__ = ["WORKER_NICENESS", "Analyser"]

log = logging.getLogger("bounced.apply")

# Workers run at a lower CPU priority: when cores are short, the listener (answering SMTP
# clients) goes first and the backlog is analysed with what is left; measured on 2 cores,
# both accepting and applying got ~10 % faster than at equal priority.
WORKER_NICENESS = 10


def _init_worker(daemon_pid: int) -> None:
    """Worker initializer (top level: the forkserver imports it by name)."""
    # A sandbox may forbid it (our unit denies @resources but allows setpriority back):
    # then the worker runs at normal priority rather than not at all.
    with contextlib.suppress(OSError, AttributeError):
        os.nice(WORKER_NICENESS)
    # Workers are children of the forkserver, not of the daemon, and keep the forkserver
    # alive: if the daemon dies without shutting the pool down (SIGKILL, OOM), nothing would
    # ever end them. Each worker watches the daemon and exits when it is gone.
    threading.Thread(target=_exit_with, args=(daemon_pid,), name="daemon-watch", daemon=True).start()


def _exit_with(daemon_pid: int, interval: float = 1.0) -> None:
    while True:
        time.sleep(interval)
        try:
            os.kill(daemon_pid, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:
            pass  # exists, owned by someone else: still there


class Analyser:
    def __init__(self, workers: int = 0, min_batch: int = 16) -> None:
        if workers < 0:
            raise ValueError(f"workers must be >= 0, got {workers}")
        self.workers = workers
        self.min_batch = min_batch
        self.pool_batches = 0  # batches analysed in worker processes (tests, benchmarks)
        self.broken_pools = 0
        self._pool: ProcessPoolExecutor | None = None

    async def analyse_all(self, raws: Sequence[bytes], classify_config: ClassifyConfig) -> list[Analysis]:
        """One Analysis per message, in order."""
        if self.workers == 0 or len(raws) < self.min_batch:
            return analyse_many(raws, classify_config)
        pool = self._pool_started()
        loop = asyncio.get_running_loop()
        size = -(-len(raws) // self.workers)  # one chunk per worker: one pickle round trip each
        chunks = [list(raws[i : i + size]) for i in range(0, len(raws), size)]
        try:
            parts = await asyncio.gather(
                *(loop.run_in_executor(pool, analyse_many, chunk, classify_config) for chunk in chunks)
            )
        except BrokenProcessPool as exc:
            self.broken_pools += 1
            log.warning("event=analyser_pool_broken", extra=kv(error=str(exc), then="inline_this_batch"))
            self._discard(pool)
            return analyse_many(raws, classify_config)
        except Exception:
            # The pool cannot work in this process at all (no worker could be started, e.g.
            # an embedding program without a `__main__` guard; a result that does not
            # pickle): analyse inline from now on rather than fail the same way every batch.
            log.exception("event=analyser_pool_unusable", extra=kv(then="inline_from_now_on"))
            self.workers = 0
            self._discard(pool)
            return analyse_many(raws, classify_config)
        self.pool_batches += 1
        return [analysis for part in parts for analysis in part]

    async def close(self) -> None:
        """Stop the worker processes (waits for a batch in progress)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)

    def _pool_started(self) -> ProcessPoolExecutor:
        if self._pool is None:
            method = "forkserver" if sys.platform.startswith("linux") else "spawn"
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context(method),
                initializer=_init_worker,
                initargs=(os.getpid(),),
            )
            log.info("event=analyser_pool_started", extra=kv(workers=self.workers, method=method))
        return self._pool

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        if self._pool is pool:
            self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)
