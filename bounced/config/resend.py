"""[resend]: retry rules for soft bounces."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ResendConfig", "RetryRuleConfig"]


@dataclass(frozen=True)
class RetryRuleConfig:
    name: str | None = None
    # Matchers (all given ones must match; none given: matches everything)
    domains: list[str] = field(default_factory=list)  # "gmail.com", "*.yahoo.com"
    status: str | None = None  # "4.2.*"
    reply_code: str | None = None  # "45*"
    reason: str | None = None
    diagnostic: str | None = None  # regex
    # Schedule
    attempts: int = 4  # resends after the first delivery
    delays: list[float] = field(default_factory=list)  # fixed list of seconds
    first_delay: float = 900.0  # geometric when delays is empty
    factor: float = 4.0
    max_delay: float = 6 * 3600.0
    jitter: float = 0.0  # +- fraction, 0.1 = 10 %
    max_age: float = 24 * 3600.0


@dataclass(frozen=True)
class ResendConfig:
    greylist_margin: float = 30.0
    greylist_max: float = 3600.0
    rules: list[RetryRuleConfig] = field(default_factory=list)
    default: RetryRuleConfig = field(default_factory=RetryRuleConfig)
