"""Connection counts for `max_connections` and `max_connections_per_ip`, over all acceptors.

The kernel spreads connections over the acceptor processes unevenly, so a per-process share
of the limit refuses clients well below it. Instead every acceptor counts in its own row of
a table in memory shared by all of them (a memfd the pool makes and hands to each), and
admits a connection when the sum of the rows is below the limit. Each row has one writer,
so no lock is needed; two acceptors admitting at the same instant may both pass, so the
total can exceed the limit by at most `acceptors - 1` for a moment. A client is never
refused while the total is below the limit.

Per-address counts are kept in `_BUCKETS` buckets by a hash of the address: two addresses
in one bucket share a count (1 in 16,384 for a pair), which can only refuse early, never
admit past the limit.
"""

from __future__ import annotations

import collections
import mmap
import os
import zlib
from typing import Protocol

__all__ = ["ConnectionCounts", "LocalCounts", "SharedCounts", "create_shared_table", "refusal"]

_BUCKETS = 16_384
_ROW = (1 + _BUCKETS) * 4  # int32: the acceptor's total, then its per-address buckets
_LIMIT_REPLY = b"421 4.7.0 Too many connections, try again later\r\n"
_PER_IP_REPLY = b"421 4.7.0 Too many connections from your address, try again later\r\n"


class ConnectionCounts(Protocol):
    def count(self, address: str) -> tuple[int, int]:
        """(connections open in all, connections open from `address`)."""

    def add(self, address: str, delta: int) -> None: ...


def refusal(counts: ConnectionCounts, address: str, max_total: int, max_per_ip: int) -> bytes | None:
    """The 421 reply for a new connection from `address`, or None to admit it."""
    total, from_address = counts.count(address)
    if total >= max_total:
        return _LIMIT_REPLY
    if max_per_ip and from_address >= max_per_ip:
        return _PER_IP_REPLY
    return None


class LocalCounts:
    """Sessions in one process (`acceptors = 0`)."""

    def __init__(self) -> None:
        self.total = 0
        self.by_address: collections.Counter[str] = collections.Counter()

    def count(self, address: str) -> tuple[int, int]:
        return self.total, self.by_address[address]

    def add(self, address: str, delta: int) -> None:
        self.total += delta
        self.by_address[address] += delta
        if not self.by_address[address]:
            del self.by_address[address]


def _bucket(address: str) -> int:
    # crc32, not hash(): every process must put an address in the same bucket.
    return 1 + zlib.crc32(address.encode()) % _BUCKETS


def create_shared_table(rows: int) -> int:
    """A zeroed table for `rows` acceptors; returns its fd (inherited by each acceptor)."""
    fd = os.memfd_create("bounced-connections", 0)  # no MFD_CLOEXEC: passed to the children
    os.ftruncate(fd, rows * _ROW)
    return fd


class SharedCounts:
    """One acceptor's view of the shared table: it writes row `index`, reads them all."""

    def __init__(self, fd: int, index: int) -> None:
        self._map = mmap.mmap(fd, 0)
        self._cells = memoryview(self._map).cast("i")
        self._rows = len(self._cells) // (1 + _BUCKETS)
        self._own = index * (1 + _BUCKETS)
        if not 0 <= index < self._rows:
            raise ValueError(f"acceptor index {index} outside a table of {self._rows} rows")

    def count(self, address: str) -> tuple[int, int]:
        cells, step, bucket = self._cells, 1 + _BUCKETS, _bucket(address)
        total = sum(cells[row * step] for row in range(self._rows))
        return total, sum(cells[row * step + bucket] for row in range(self._rows))

    def add(self, address: str, delta: int) -> None:
        self._cells[self._own] += delta
        self._cells[self._own + _bucket(address)] += delta

    @staticmethod
    def clear_row(fd: int, index: int) -> None:
        """Forget a dead acceptor's connections (the kernel closed them with it)."""
        with mmap.mmap(fd, 0) as table:
            table[index * _ROW : (index + 1) * _ROW] = bytes(_ROW)
