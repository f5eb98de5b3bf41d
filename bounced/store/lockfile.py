"""One daemon per database: a lock on `<database>.lock`, held for the daemon's life.

Two `bounced serve` on one database would both apply the same intake. SQLite's own locks
are per transaction, so the daemon holds `flock` on a file beside the database instead: the
kernel drops it when the process ends, however it ends (SIGKILL included), so a crash never
leaves a stale lock. Commands (`bounced suppression ...`) do not take it: they may run
beside the daemon. The file's descriptor is close-on-exec, so acceptor processes never
inherit the lock.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from bounced.errors import StoreError

__all__ = ["DaemonLock"]


class DaemonLock:
    def __init__(self, database: str) -> None:
        self.database = database
        self.path = Path(f"{database}.lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise StoreError naming the holder's pid."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
        except OSError as exc:
            raise StoreError(f"storage.path: cannot create lock file {self.path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise StoreError(
                f"storage.path: the database {self.database} is in use by another bounced serve "
                f"(pid {holder}; lock {self.path})"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # drops the flock; the file stays (unlinking would race a new holder)
