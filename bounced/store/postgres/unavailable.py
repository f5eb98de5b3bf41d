"""Which PostgreSQL errors mean "the server cannot be reached now" (StoreUnavailable): the
connection refused, reset or timed out, the server shutting down or starting, a standby
that is read-only during a failover. Nothing was committed; the caller may try again."""

from __future__ import annotations

import asyncpg

__all__ = ["unreachable"]

_UNAVAILABLE = (
    OSError,  # refused, reset, unreachable host
    TimeoutError,
    asyncpg.PostgresConnectionError,  # class 08: the connection does not exist / failed
    asyncpg.CannotConnectNowError,  # 57P03: starting up / shutting down
    asyncpg.AdminShutdownError,  # 57P01
    asyncpg.CrashShutdownError,  # 57P02
    asyncpg.TooManyConnectionsError,  # 53300: wait for a slot
    asyncpg.ReadOnlySQLTransactionError,  # 25006: a failover in progress
)


def unreachable(exc: BaseException) -> bool:
    """True when `exc` (as raised by asyncpg or the network) says the server is away."""
    if isinstance(exc, _UNAVAILABLE):
        return True
    # asyncpg says so about a connection the server (or a cut link) closed under it.
    return isinstance(exc, asyncpg.InterfaceError) and "closed" in str(exc)
