"""[processing]: how spooled bounces are applied (batching, worker processes)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from bounced.errors import ConfigError

__all__ = ["ProcessingConfig"]

_MAX_WORKERS = 64
_MAX_BATCH_DELAY = 10.0
_MAX_BURST_HOLD = 60.0


@dataclass(frozen=True)
class ProcessingConfig:
    # Processes that parse and classify, off the daemon's process (for batches of at least
    # `pool_min_batch` messages), niced; 0: always in the daemon's process. Each window is
    # split between them, so a burst is applied sooner after it ends.
    workers: int = 2
    pool_min_batch: int = 16
    # Intake messages applied per store transaction (and fsync); also bounded by bytes.
    batch_size: int = 200
    # Seconds the processor lets a burst accumulate before taking its next window.
    batch_delay: float = 0.05
    # Seconds applying may wait while bounces keep arriving, so the SMTP sessions get the
    # CPU first (a burst is accepted, then applied); 0: apply alongside, as they come.
    burst_hold: float = 2.0

    def validate(self, key: str) -> Iterator[ConfigError]:
        prefix = f"{key}." if key else "processing."
        if not 0 <= self.workers <= _MAX_WORKERS:
            yield ConfigError(
                f"{prefix}workers", f"expected 0 (inline) to {_MAX_WORKERS} processes, got {self.workers!r}"
            )
        for name in ("pool_min_batch", "batch_size"):
            if getattr(self, name) < 1:
                yield ConfigError(
                    f"{prefix}{name}", f"expected a positive integer, got {getattr(self, name)!r}"
                )
        if not 0 <= self.burst_hold <= _MAX_BURST_HOLD:
            yield ConfigError(
                f"{prefix}burst_hold", f"expected 0 to {_MAX_BURST_HOLD} seconds, got {self.burst_hold!r}"
            )
        if not 0 <= self.batch_delay <= _MAX_BATCH_DELAY:
            yield ConfigError(
                f"{prefix}batch_delay", f"expected 0 to {_MAX_BATCH_DELAY} seconds, got {self.batch_delay!r}"
            )
