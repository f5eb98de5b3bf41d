"""One exception tree. Callers catch by meaning; each error carries its fields."""

from __future__ import annotations

__all__ = [
    "BouncedError",
    "ConfigError",
    "ConfigErrors",
    "ParseError",
    "SendError",
    "SpoolError",
    "SpoolFullError",
    "StoreError",
    "StoreUnavailable",
    "VerpError",
]


class BouncedError(Exception):
    """Root of every error bounced raises on purpose."""


class ConfigError(BouncedError, ValueError):
    """A setting is missing, unknown or of the wrong form. `key` is its dotted path."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}" if key else message)
        self.key = key


class ConfigErrors(ConfigError):
    """Several problems found in one pass over a config file, one line each."""

    problems: tuple[ConfigError, ...]

    def __init__(self, problems: list[ConfigError]) -> None:
        flat = [p for e in problems for p in (e.problems if isinstance(e, ConfigErrors) else [e])]
        ValueError.__init__(self, "\n".join(str(p) for p in flat))
        self.key = flat[0].key if flat else ""
        self.problems = tuple(flat)


class ParseError(BouncedError, ValueError):
    """Raised only for input that is not a message at all (never for odd content)."""


class StoreError(BouncedError):
    """The store could not do what was asked (locked, corrupt, schema too new)."""


class StoreUnavailable(StoreError):
    """The (central) database server cannot be reached now: connection refused, cut or timed
    out. Nothing was written; the same call later may succeed. Not the message's fault: the
    processor backs off without counting an attempt, and intake keeps spooling locally."""


class SpoolError(StoreError, OSError):
    """A message could not be made durable; the client must get a 4xx, not 250."""


class SpoolFullError(SpoolError):
    """Not durable for want of space (disk full, quota, `max_page_count`): the client gets
    452 4.3.1 rather than 451 4.3.0, and retries."""


class SendError(BouncedError, ConnectionError):
    """Delivery to the next hop failed for a reason that is not an SMTP reply."""


class VerpError(BouncedError, ValueError):
    """A VERP token is malformed or its signature does not verify."""
