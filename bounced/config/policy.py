"""[policy]: what bounces may do to the suppression list beyond the per-event rules.

[policy]
local_part_case = "insensitive"     # "UNKNOWN1@x" and "unknown1@x" are one address

[[policy.soft_thresholds]]
name = "five soft bounces in a week"
count = 5
window = 604800
reasons = ["mailboxfull"]
domains = ["*.example.com"]

[policy.guard]
enabled = true
threshold = 200
window = 600
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from bounced.errors import ConfigError
from bounced.model import Reason

__all__ = ["GuardConfig", "PolicyConfig", "SoftThreshold"]


@dataclass(frozen=True)
class SoftThreshold:
    """`count` soft bounces of one address within `window` seconds, with no successful
    delivery in between, suppress it (reason "softbounce-threshold")."""

    count: int = 5
    window: float = 7 * 86400.0
    reasons: list[str] = field(default_factory=list)  # empty: every soft reason
    domains: list[str] = field(default_factory=list)  # "example.com", "*.example.com"; empty: all
    name: str | None = None

    def validate(self, key: str) -> Iterator[ConfigError]:
        if self.count < 1:
            yield ConfigError(f"{key}.count", f"expected an integer >= 1, got {self.count}")
        if self.window <= 0:
            yield ConfigError(f"{key}.window", f"expected seconds > 0, got {self.window}")
        for i, reason in enumerate(self.reasons):
            if reason not in Reason._value2member_map_:
                yield ConfigError(f"{key}.reasons[{i}]", f"unknown reason {reason!r}")
        for i, domain in enumerate(self.domains):
            bare = domain.removeprefix("*.")
            if not bare or "*" in bare or "@" in bare:
                yield ConfigError(
                    f"{key}.domains[{i}]", f'expected "example.com" or "*.example.com", got {domain!r}'
                )


@dataclass(frozen=True)
class GuardConfig:
    """The mass-failure guard: `threshold` hard bounces with one normalised text for one
    recipient domain (or one sending IP) within `window` seconds quarantine that group."""

    enabled: bool = True
    threshold: int = 200
    window: float = 600.0

    def validate(self, key: str) -> Iterator[ConfigError]:
        if self.threshold < 2:
            yield ConfigError(f"{key}.threshold", f"expected an integer >= 2, got {self.threshold}")
        if self.window <= 0:
            yield ConfigError(f"{key}.window", f"expected seconds > 0, got {self.window}")


@dataclass(frozen=True)
class PolicyConfig:
    # "insensitive": local parts compared case-insensitively, as the big providers do;
    # "sensitive": as sent (RFC 5321). Domains are always case-insensitive.
    local_part_case: Literal["insensitive", "sensitive"] = "insensitive"
    soft_thresholds: list[SoftThreshold] = field(default_factory=list)  # empty: off
    guard: GuardConfig = field(default_factory=GuardConfig)

    @property
    def fold_local_case(self) -> bool:
        return self.local_part_case == "insensitive"
