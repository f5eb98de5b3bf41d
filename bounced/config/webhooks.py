"""[[webhooks]] (where events are POSTed) and [webhook_delivery] (retries, dead letters; for
[[brokers]] too)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bounced.errors import ConfigError

__all__ = [
    "WEBHOOK_EVENT_TYPES",
    "WebhookConfig",
    "WebhookDeliveryConfig",
    "check_event_types",
    "check_webhook_names",
]

WEBHOOK_EVENT_TYPES = (
    "hard_bounce",
    "soft_bounce",
    "complaint",
    "autoreply",
    "suppression_added",
    "suppression_removed",
    "non_delivery",
    "delivered",
    "guard_tripped",
)
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class WebhookConfig:
    url: str = ""
    secret: str = ""  # HMAC-SHA256 key of the Bounced-Signature header
    events: list[str] = field(default_factory=lambda: list(WEBHOOK_EVENT_TYPES))
    timeout: float = 10.0  # seconds per POST
    name: str = ""  # what `bounced hooks` shows and the delivery state is kept under; default: url

    @property
    def key(self) -> str:
        return self.name or self.url

    def validate(self, key: str) -> Iterator[ConfigError]:
        prefix = f"{key}." if key else ""
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            yield ConfigError(f"{prefix}url", f"expected an http:// or https:// URL, got {self.url!r}")
        if len(self.secret) < 16:
            yield ConfigError(f"{prefix}secret", "expected a secret of at least 16 characters")
        yield from check_event_types(prefix, self.events)
        if not 0 < self.timeout <= 300:
            yield ConfigError(f"{prefix}timeout", f"expected seconds in (0, 300], got {self.timeout}")
        if self.name and not _NAME.match(self.name):
            yield ConfigError(
                f"{prefix}name", f"expected 1-64 characters A-Z a-z 0-9 _ . -, got {self.name!r}"
            )


def check_event_types(prefix: str, events: list[str]) -> Iterator[ConfigError]:
    """`events` of a hook or a broker: a non-empty list of known types."""
    if not events:
        yield ConfigError(
            f"{prefix}events", f"expected a list of event types: {', '.join(WEBHOOK_EVENT_TYPES)}"
        )
    for i, event in enumerate(events):
        if event not in WEBHOOK_EVENT_TYPES:
            yield ConfigError(
                f"{prefix}events[{i}]", f"expected one of {', '.join(WEBHOOK_EVENT_TYPES)}, got {event!r}"
            )


def check_webhook_names(sinks: list[tuple[str, str]]) -> Iterator[ConfigError]:
    """Delivery state is kept per sink key (a hook's name, else its url; a broker's name),
    given as (section, key) in config order: two sinks may not share one."""
    seen: set[str] = set()
    counts: dict[str, int] = {}
    for section, key in sinks:
        i = counts[section] = counts.get(section, -1) + 1
        if key in seen:
            yield ConfigError(
                f"{section}[{i}].name", f"{key!r} is used by an earlier hook or broker: give each a name"
            )
        seen.add(key)


@dataclass(frozen=True)
class WebhookDeliveryConfig:
    retry_initial: float = 10.0  # first retry after this many seconds, doubling each time
    retry_max_delay: float = 3600.0  # ... up to this
    retry_for: float = 86400.0  # then dead-lettered once the event is this old (24 h)
    poll_interval: float = 1.0  # look for new events at least this often
    concurrency: int = 16  # POSTs in flight per hook (a broker: [[brokers]] max_unconfirmed)
    keep_days: int = 30  # delivered and dead-lettered events are pruned after this

    def validate(self, key: str) -> Iterator[ConfigError]:
        prefix = f"{key}." if key else ""
        for name in ("retry_initial", "retry_max_delay", "retry_for", "poll_interval"):
            if getattr(self, name) <= 0:
                yield ConfigError(f"{prefix}{name}", f"expected seconds > 0, got {getattr(self, name)}")
        if self.retry_initial > 0 and 0 < self.retry_max_delay < self.retry_initial:
            yield ConfigError(f"{prefix}retry_max_delay", "expected at least retry_initial")
        if self.concurrency <= 0:
            yield ConfigError(f"{prefix}concurrency", "expected a positive integer")
        if self.keep_days <= 0:
            yield ConfigError(f"{prefix}keep_days", "expected a positive number of days")
