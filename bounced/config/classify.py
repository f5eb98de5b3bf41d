"""[classify]: how failures become hard / soft / blocked, and operator overrides."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ClassifyConfig", "ClassifyOverride"]


@dataclass(frozen=True)
class ClassifyOverride:
    """One operator rule; every given matcher must match; first matching rule wins."""

    status: str | None = None  # "5.7.1", or a prefix pattern like "5.7.*"
    reply_code: str | None = None  # "550", or "55*"
    reason: str | None = None  # reason found by the default classifier
    diagnostic: str | None = None  # regular expression, case-insensitive, searched
    kind: str | None = None  # new kind
    set_reason: str | None = None  # new reason
    name: str | None = None


@dataclass(frozen=True)
class ClassifyConfig:
    greylist_default_delay: int = 300  # seconds, when a server says greylisted without a number
    overrides: list[ClassifyOverride] = field(default_factory=list)
