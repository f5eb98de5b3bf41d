"""[smtp]: the return-path listener where bounces arrive."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass, field

from bounced.errors import ConfigError

__all__ = ["SmtpConfig", "is_loopback_host", "split_host_port"]

_MAX_ACCEPTORS = 64
_TRANSACTION_COMMANDS = 10  # EHLO, STARTTLS, EHLO, MAIL, DATA, RSET, NOOP ... besides RCPTs


def split_host_port(key: str, value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(key, f'expected "HOST:PORT", got {value!r}')
    if int(port) > 65535:
        raise ConfigError(key, f"port {int(port)} out of range (expected 0-65535), got {value!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def is_loopback_host(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class SmtpConfig:
    listen: str = "127.0.0.1:2525"
    # Domains we accept bounces for ("bounces.example.com"; "*.example.com" also takes every
    # subdomain). Empty: any domain, allowed only on a loopback listener (never an open MX).
    domains: list[str] = field(default_factory=list)
    hostname: str = ""  # the name in the greeting; default: the machine's FQDN
    max_message_size: int = 10 * 1024 * 1024  # bytes; advertised as SIZE, larger -> 552
    max_recipients: int = 100  # per message; more -> 452 4.5.3
    max_connections: int = 500  # concurrent, over all acceptors; more -> 421 at connect
    max_connections_per_ip: int = 50  # concurrent from one client address; 0: no limit
    # Commands (replies) a session may send without starting a DATA; more -> 421 and closed.
    # 0: no limit. Must leave room for a full transaction (max_recipients RCPTs).
    max_commands: int = 300
    idle_timeout: float = 300.0  # seconds without a command before the connection is closed
    data_timeout: float = 600.0  # seconds for the whole DATA phase
    shutdown_grace: float = 10.0  # seconds stop waits for sessions in the middle of DATA
    tls_cert: str | None = None  # PEM certificate chain; with tls_key enables STARTTLS
    tls_key: str | None = None
    # Processes that run the SMTP sessions; the daemon's own process keeps the database.
    # 0: sessions in the daemon's process.
    acceptors: int = 2

    @property
    def host_port(self) -> tuple[str, int]:
        return split_host_port("smtp.listen", self.listen)

    @property
    def normalised_domains(self) -> tuple[str, ...]:
        return tuple(d.strip().lower().rstrip(".") for d in self.domains)

    def validate(self, key: str) -> Iterator[ConfigError]:
        prefix = f"{key}." if key else "smtp."
        try:
            host: str | None = split_host_port(f"{prefix}listen", self.listen)[0]
        except ConfigError as exc:
            yield exc
            host = None
        if (self.tls_cert is None) != (self.tls_key is None):
            yield ConfigError(f"{prefix}tls_cert", "tls_cert and tls_key go together")
        for name in ("max_message_size", "max_recipients", "max_connections"):
            if getattr(self, name) <= 0:
                yield ConfigError(f"{prefix}{name}", "expected a positive integer")
        if self.max_connections_per_ip < 0:
            yield ConfigError(
                f"{prefix}max_connections_per_ip", "expected 0 (no limit) or a positive integer"
            )
        if self.max_commands and self.max_commands < self.max_recipients + _TRANSACTION_COMMANDS:
            yield ConfigError(
                f"{prefix}max_commands",
                f"expected 0 (no limit) or at least max_recipients + {_TRANSACTION_COMMANDS} "
                f"({self.max_recipients + _TRANSACTION_COMMANDS}) so a full transaction fits, "
                f"got {self.max_commands!r}",
            )
        if not 0 <= self.acceptors <= _MAX_ACCEPTORS:
            yield ConfigError(
                f"{prefix}acceptors",
                f"expected 0 (in the daemon) to {_MAX_ACCEPTORS} processes, got {self.acceptors!r}",
            )
        for name in ("idle_timeout", "data_timeout", "shutdown_grace"):
            if getattr(self, name) <= 0:
                yield ConfigError(f"{prefix}{name}", "expected a positive number of seconds")
        for i, domain in enumerate(self.normalised_domains):
            bare = domain.removeprefix("*.")
            if not bare or "@" in bare or " " in bare or "*" in bare:
                yield ConfigError(f"{prefix}domains[{i}]", f'expected a domain name, got "{domain}"')
        if not self.domains and host is not None and not is_loopback_host(host):
            yield ConfigError(
                f"{prefix}domains",
                f"expected the list of bounce domains to accept: an empty list (any domain) is "
                f"allowed only when listening on loopback, not on {self.listen!r}",
            )
