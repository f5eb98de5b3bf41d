"""How every store backend keeps times: integer microseconds since the Unix epoch, UTC.

One encoding for SQLite (INTEGER) and PostgreSQL (BIGINT), so row converters and
`bounced storage copy` move values between them unchanged."""

from __future__ import annotations

from datetime import UTC, datetime

from bounced.errors import StoreError

__all__ = ["from_micros", "from_micros_opt", "to_micros", "to_micros_opt"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(dt: datetime) -> int:
    if dt.tzinfo is None:
        raise StoreError(f"naive datetime {dt.isoformat()} given to the store; times must be UTC-aware")
    delta = dt - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    return datetime.fromtimestamp(value // 1_000_000, UTC).replace(microsecond=value % 1_000_000)


def to_micros_opt(dt: datetime | None) -> int | None:
    return None if dt is None else to_micros(dt)


def from_micros_opt(value: int | None) -> datetime | None:
    return None if value is None else from_micros(value)
