"""[[brokers]]: message brokers (RabbitMQ) that get the webhook event feed from the same outbox.

Retries, dead letters and polling are the [webhook_delivery] settings: a broker is one more
sink of the outbox (bounced/webhooks/sink.py), its delivery state kept under its `name`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from bounced.config.webhooks import WEBHOOK_EVENT_TYPES, check_event_types
from bounced.errors import ConfigError

__all__ = ["BrokerConfig", "redact_url"]

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
# AMQP 0-9-1 short strings; "amq." names are reserved by the broker (it refuses to declare them).
_EXCHANGE = re.compile(r"^[A-Za-z0-9_.:-]{1,255}$")
_PREFIX = re.compile(r"^[A-Za-z0-9_.:-]{0,200}$")


def redact_url(url: str) -> str:
    """`url` with its password replaced by *** (for logs, errors and `check-config`)."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparsable url>"
    if not password:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


@dataclass(frozen=True)
class BrokerConfig:
    name: str = ""  # the delivery state is kept under it (`bounced hooks list --hook NAME`)
    url: str = ""  # amqp://user:password@host:5672/vhost (amqps:// for TLS)
    exchange: str = "bounced.events"  # declared durable, type topic
    routing_key_prefix: str = "bounced."  # routing key: prefix + event type, e.g. bounced.hard_bounce
    events: list[str] = field(default_factory=lambda: list(WEBHOOK_EVENT_TYPES))
    mandatory: bool = False  # true: a message no queue is bound for is retried, not dropped
    # Published per batch before their confirms are awaited: a larger batch spreads the
    # per-batch costs (the broker's disk sync, the outbox's bookkeeping) over more messages.
    max_unconfirmed: int = 256
    timeout: float = 10.0  # seconds to connect, and for the broker to confirm a batch

    @property
    def key(self) -> str:
        return self.name

    def validate(self, key: str) -> Iterator[ConfigError]:
        prefix = f"{key}." if key else ""
        if not _NAME.match(self.name):
            yield ConfigError(
                f"{prefix}name", f"expected 1-64 characters A-Z a-z 0-9 _ . -, got {self.name!r}"
            )
        try:
            parts = urlsplit(self.url)
            ok = parts.scheme in ("amqp", "amqps") and bool(parts.hostname) and (parts.port or 1) > 0
        except ValueError:  # a port that is not a number
            ok = False
        if not ok:
            yield ConfigError(
                f"{prefix}url",
                f"expected amqp://user:password@host:port/vhost (or amqps://), got {redact_url(self.url)!r}",
            )
        if not _EXCHANGE.match(self.exchange) or self.exchange.startswith("amq."):
            yield ConfigError(
                f"{prefix}exchange",
                "expected 1-255 characters A-Z a-z 0-9 _ . : - not starting with 'amq.' (reserved),"
                f" got {self.exchange!r}",
            )
        if not _PREFIX.match(self.routing_key_prefix):
            yield ConfigError(
                f"{prefix}routing_key_prefix",
                f"expected up to 200 characters A-Z a-z 0-9 _ . : -, got {self.routing_key_prefix!r}",
            )
        yield from check_event_types(prefix, self.events)
        if not 1 <= self.max_unconfirmed <= 10_000:
            yield ConfigError(
                f"{prefix}max_unconfirmed", f"expected an integer in [1, 10000], got {self.max_unconfirmed}"
            )
        if not 0 < self.timeout <= 300:
            yield ConfigError(f"{prefix}timeout", f"expected seconds in (0, 300], got {self.timeout}")
