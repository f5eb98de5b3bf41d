"""[resend]: retry rules for soft bounces.

Rules are tried in order; the first whose given matchers all match decides. When none
matches, `default` does: 4 resends at 30 min, 2 h, 8 h and 12 h after each bounce,
given up 24 h after the message was first received (the platform this replaces kept a
message for 24 h).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from bounced.errors import ConfigError

__all__ = ["ResendConfig", "RetryRuleConfig"]


def _check_pattern(key: str, value: str | None, allowed: str) -> Iterator[ConfigError]:
    if value is not None and (not value or any(c not in allowed for c in value)):
        yield ConfigError(
            key, f"expected a pattern of {allowed!r} characters with '*' wildcards, got {value!r}"
        )


@dataclass(frozen=True)
class RetryRuleConfig:
    name: str | None = None
    # Matchers (all given ones must match; none given: matches everything)
    domains: list[str] = field(default_factory=list)  # "gmail.com", "*.yahoo.com"
    status: str | None = None  # "4.2.*"
    reply_code: str | None = None  # "45*"
    reason: str | None = None
    diagnostic: str | None = None  # regex, case-insensitive, searched
    # Schedule
    attempts: int = 4  # resends after the first delivery
    delays: list[float] = field(default_factory=list)  # fixed list of seconds (last one repeats)
    first_delay: float = 1800.0  # geometric when delays is empty
    factor: float = 4.0
    max_delay: float = 12 * 3600.0
    jitter: float = 0.0  # +- fraction, 0.1 = 10 %
    max_age: float = 24 * 3600.0  # seconds after the message was received; then give up

    def validate(self, key: str) -> Iterator[ConfigError]:
        prefix = f"{key}." if key else ""
        if self.attempts < 0:
            yield ConfigError(f"{prefix}attempts", f"expected an integer >= 0, got {self.attempts}")
        for i, delay in enumerate(self.delays):
            if delay < 0:
                yield ConfigError(f"{prefix}delays[{i}]", f"expected seconds >= 0, got {delay}")
        for name in ("first_delay", "max_delay", "max_age"):
            if getattr(self, name) < 0:
                yield ConfigError(f"{prefix}{name}", f"expected seconds >= 0, got {getattr(self, name)}")
        if self.factor < 1:
            yield ConfigError(f"{prefix}factor", f"expected a number >= 1, got {self.factor}")
        if not 0 <= self.jitter < 1:
            yield ConfigError(f"{prefix}jitter", f"expected a fraction in [0, 1), got {self.jitter}")
        yield from _check_pattern(f"{prefix}status", self.status, "0123456789.*")
        yield from _check_pattern(f"{prefix}reply_code", self.reply_code, "0123456789*")
        for i, domain in enumerate(self.domains):
            bare = domain.removeprefix("*.")
            if not bare or "*" in bare or "@" in bare:
                yield ConfigError(
                    f"{prefix}domains[{i}]", f'expected "example.com" or "*.example.com", got {domain!r}'
                )
        if self.diagnostic is not None:
            try:
                re.compile(self.diagnostic)
            except re.error as exc:
                yield ConfigError(
                    f"{prefix}diagnostic", f"expected a regular expression: {exc} in {self.diagnostic!r}"
                )


@dataclass(frozen=True)
class ResendConfig:
    # A greylisted attempt is retried no earlier than retry_after + margin (capped).
    greylist_margin: float = 30.0
    greylist_max: float = 3600.0
    # Built-in rule before the configured ones: a `greylisted` bounce is resent at
    # retry_after + margin, this many times; then the other rules decide. 0: off. A
    # configured rule with reason = "greylisted" replaces it.
    greylist_attempts: int = 5
    rules: list[RetryRuleConfig] = field(default_factory=list)
    default: RetryRuleConfig = field(default_factory=RetryRuleConfig)
    # Queue mechanics
    poll_interval: float = 2.0  # seconds between scans for new soft bounces / due resends
    lease: float = 300.0  # seconds an attempt may run before another worker may take it over
    concurrency: int = 20  # simultaneous deliveries to the relay
    batch_size: int = 200  # resends claimed per store round trip

    def validate(self, key: str) -> Iterator[ConfigError]:
        prefix = f"{key}." if key else ""
        for name in ("greylist_margin", "greylist_max"):
            if getattr(self, name) < 0:
                yield ConfigError(f"{prefix}{name}", f"expected seconds >= 0, got {getattr(self, name)}")
        if self.greylist_attempts < 0:
            yield ConfigError(
                f"{prefix}greylist_attempts", f"expected an integer >= 0, got {self.greylist_attempts}"
            )
        for name in ("poll_interval", "lease"):
            if getattr(self, name) <= 0:
                yield ConfigError(f"{prefix}{name}", f"expected seconds > 0, got {getattr(self, name)}")
        for name in ("concurrency", "batch_size"):
            if getattr(self, name) <= 0:
                yield ConfigError(
                    f"{prefix}{name}", f"expected a positive integer, got {getattr(self, name)}"
                )
