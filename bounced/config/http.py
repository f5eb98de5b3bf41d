"""[http]: the HTTP API, the Prometheus metrics and the report page, served by `bounced serve`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from bounced.config.smtp import split_host_port
from bounced.errors import ConfigError

__all__ = ["HttpConfig", "HttpToken"]

_MIN_TOKEN_LENGTH = 16  # a guessable bearer token is an open admin API


@dataclass(frozen=True)
class HttpToken:
    name: str  # who holds it (logged with each request, never the token itself)
    token: str  # the bearer secret, at least 16 characters
    scope: Literal["read", "admin"] = "read"  # read: GET only; admin: also add/remove/import


@dataclass(frozen=True)
class HttpConfig:
    enabled: bool = False
    listen: str = "127.0.0.1:8025"
    tokens: list[HttpToken] = field(default_factory=list)
    tls_cert: str | None = None  # PEM chain; with tls_key the API speaks HTTPS (else: behind a proxy)
    tls_key: str | None = None
    max_request_size: int = 50 * 1024 * 1024  # bytes of one request body; larger -> 413
    ready_max_backlog: int = 10_000  # /readyz fails while more intake messages wait to be applied
    metrics_auth: bool = False  # true: /metrics needs a token too (Prometheus sends it as bearer)

    @property
    def host_port(self) -> tuple[str, int]:
        return split_host_port("http.listen", self.listen)

    def validate(self, key: str) -> Iterator[ConfigError]:
        prefix = f"{key}." if key else "http."
        try:
            self.host_port  # noqa: B018 - raises ConfigError naming http.listen
        except ConfigError as exc:
            yield exc
        if (self.tls_cert is None) != (self.tls_key is None):
            yield ConfigError(f"{prefix}tls_cert", "tls_cert and tls_key go together")
        if self.max_request_size <= 0:
            yield ConfigError(f"{prefix}max_request_size", "expected a positive number of bytes")
        if self.ready_max_backlog <= 0:
            yield ConfigError(f"{prefix}ready_max_backlog", "expected a positive number of messages")
        seen: set[str] = set()
        for i, tok in enumerate(self.tokens):
            if len(tok.token) < _MIN_TOKEN_LENGTH:
                yield ConfigError(
                    f"{prefix}tokens[{i}].token", f"expected at least {_MIN_TOKEN_LENGTH} characters"
                )
            if tok.token in seen:
                yield ConfigError(f"{prefix}tokens[{i}].token", "the same token is given twice")
            seen.add(tok.token)
        if self.enabled and not self.tokens:
            yield ConfigError(f"{prefix}tokens", "the API is enabled but no token is configured")
