"""[submission], [relay], [verp], [pools]: the sending side."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from bounced.config.smtp import is_loopback_host, split_host_port
from bounced.errors import ConfigError

__all__ = ["MIN_SECRET_BYTES", "PoolConfig", "RelayConfig", "SubmissionConfig", "VerpConfig"]

# An HMAC key shorter than this is guessable; previous_secrets are exempt so that a short
# key in use before this check can still be rotated out (tokens signed with it verify).
MIN_SECRET_BYTES = 16

_KEY_ID = re.compile(r"^[a-z0-9]{1,8}$")  # bounced.verp.sign: part of the token


@dataclass(frozen=True)
class SubmissionConfig:
    enabled: bool = False
    listen: str = "127.0.0.1:2587"
    username: str | None = None  # AUTH PLAIN/LOGIN when set
    password: str | None = None
    max_message_size: int = 25 * 1024 * 1024
    hostname: str = ""  # the name in the greeting; default: the machine's FQDN
    tls_cert: str | None = None  # STARTTLS; needed for AUTH on a non-loopback listener
    tls_key: str | None = None

    @property
    def host_port(self) -> tuple[str, int]:
        return split_host_port("submission.listen", self.listen)

    def validate(self, key: str) -> Iterator[ConfigError]:
        prefix = f"{key}." if key else ""
        try:
            host: str | None = split_host_port(f"{prefix}listen", self.listen)[0]
        except ConfigError as exc:
            yield exc
            host = None
        if (self.username is None) != (self.password is None):
            yield ConfigError(f"{prefix}password", "username and password go together")
        if (self.tls_cert is None) != (self.tls_key is None):
            yield ConfigError(f"{prefix}tls_cert", "tls_cert and tls_key go together")
        needs_tls = host is not None and not is_loopback_host(host)
        if self.username is not None and self.tls_cert is None and needs_tls:
            yield ConfigError(
                f"{prefix}tls_cert", "AUTH on a non-loopback listener needs TLS: set tls_cert and tls_key"
            )
        if self.max_message_size <= 0:
            yield ConfigError(f"{prefix}max_message_size", "expected a positive integer")


@dataclass(frozen=True)
class RelayConfig:
    host: str = "127.0.0.1"
    port: int = 25
    starttls: bool = False
    ca_file: str | None = None  # PEM bundle to verify the relay's certificate (default: system CAs)
    username: str | None = None
    password: str | None = None
    timeout: float = 60.0
    helo: str = ""  # EHLO name; default: the machine's FQDN
    max_connections: int = 20  # kept open per sending IP and reused

    def validate(self, key: str) -> Iterator[ConfigError]:
        prefix = f"{key}." if key else ""
        if not 0 < self.port <= 65535:
            yield ConfigError(f"{prefix}port", f"expected a port 1-65535, got {self.port}")
        if (self.username is None) != (self.password is None):
            yield ConfigError(f"{prefix}password", "username and password go together")
        if self.timeout <= 0:
            yield ConfigError(f"{prefix}timeout", f"expected seconds > 0, got {self.timeout}")
        if self.max_connections <= 0:
            yield ConfigError(f"{prefix}max_connections", "expected a positive integer")


@dataclass(frozen=True)
class VerpConfig:
    domain: str = "bounces.localhost"
    local_prefix: str = "b"
    secret: str = ""  # HMAC key; required when submission is enabled
    previous_secrets: list[str] = field(default_factory=list)  # still accepted (key rotation)
    # Keys of the stateless return paths platforms sign (docs/signing.md): key id -> secret.
    keys: dict[str, str] = field(default_factory=dict)
    signing_key: str = ""  # the key id to sign with; default: the only key
    token_max_age_days: int = 90  # a stateless token older than this does not verify
    # What an unsigned or forged bounce may do: "auto" (suppress while no key is configured
    # at all, record once one is), "record" (event only) or "suppress" (trust the bounce's
    # own recipient; only for MX hosts you fully control).
    unsigned_bounces: Literal["auto", "record", "suppress"] = "auto"

    @property
    def signing_configured(self) -> bool:
        """A key exists, so signed bounces are possible (and unsigned ones are suspicious)."""
        return bool(self.secret or self.keys)

    @property
    def unsigned_policy(self) -> Literal["record", "suppress"]:
        """What `unsigned_bounces` means with the keys configured now."""
        if self.unsigned_bounces == "auto":
            return "record" if self.signing_configured else "suppress"
        return self.unsigned_bounces

    @property
    def active_key_id(self) -> str | None:
        if self.signing_key:
            return self.signing_key
        return next(iter(self.keys)) if len(self.keys) == 1 else None

    def validate(self, key: str) -> Iterator[ConfigError]:
        prefix = f"{key}." if key else ""
        if self.secret and len(self.secret.encode()) < MIN_SECRET_BYTES:
            yield ConfigError(
                f"{prefix}secret",
                f"expected at least {MIN_SECRET_BYTES} bytes (e.g. `openssl rand -hex 32`), "
                f"got {len(self.secret.encode())}",
            )
        if not self.domain or "@" in self.domain:
            yield ConfigError(f"{prefix}domain", f"expected a domain name, got {self.domain!r}")
        if not self.local_prefix or any(c in self.local_prefix for c in '+@ <>"\\'):
            yield ConfigError(
                f"{prefix}local_prefix", f"expected a plain local part without '+', got {self.local_prefix!r}"
            )
        for key_id, key in self.keys.items():
            if not _KEY_ID.match(key_id):
                yield ConfigError(f"{prefix}keys.{key_id}", "expected a key id of 1-8 characters a-z 0-9")
            if len(key) < 16:
                yield ConfigError(f"{prefix}keys.{key_id}", "expected a secret of at least 16 characters")
        if self.signing_key and self.signing_key not in self.keys:
            yield ConfigError(
                f"{prefix}signing_key", f"expected one of the ids in verp.keys, got {self.signing_key!r}"
            )
        if len(self.keys) > 1 and not self.signing_key:
            yield ConfigError(f"{prefix}signing_key", "several verp.keys: name the one to sign with")
        if self.token_max_age_days <= 0:
            yield ConfigError(f"{prefix}token_max_age_days", "expected a positive number of days")


def _check_ips(key: str, ips: list[str]) -> Iterator[ConfigError]:
    for i, ip in enumerate(ips):
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            yield ConfigError(f"{key}[{i}]", f"expected an IP address, got {ip!r}")


@dataclass(frozen=True)
class PoolConfig:
    default: list[str] = field(default_factory=list)  # source IPs; empty: the OS chooses
    by_from_domain: dict[str, list[str]] = field(default_factory=dict)

    def validate(self, key: str) -> Iterator[ConfigError]:
        prefix = f"{key}." if key else ""
        yield from _check_ips(f"{prefix}default", self.default)
        for domain, ips in self.by_from_domain.items():
            yield from _check_ips(f"{prefix}by_from_domain.{domain}", ips)

    def ips_for(self, from_domain: str | None) -> list[str]:
        if from_domain:
            wanted = from_domain.lower()
            for domain, ips in self.by_from_domain.items():
                if domain.lower() == wanted and ips:
                    return ips
        return self.default
