"""[submission], [relay], [verp], [pools]: the sending side."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["PoolConfig", "RelayConfig", "SubmissionConfig", "VerpConfig"]


@dataclass(frozen=True)
class SubmissionConfig:
    enabled: bool = False
    listen: str = "127.0.0.1:2587"
    username: str | None = None  # AUTH PLAIN/LOGIN when set
    password: str | None = None
    max_message_size: int = 25 * 1024 * 1024


@dataclass(frozen=True)
class RelayConfig:
    host: str = "127.0.0.1"
    port: int = 25
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    timeout: float = 60.0


@dataclass(frozen=True)
class VerpConfig:
    domain: str = "bounces.localhost"
    local_prefix: str = "b"
    secret: str = ""  # HMAC key; required when submission is enabled
    previous_secrets: list[str] = field(default_factory=list)  # still accepted (key rotation)
    # What an unsigned or forged bounce may do: "record" (event only; the safe default)
    # or "suppress" (trust the bounce's own recipient; only for MX hosts you fully control).
    unsigned_bounces: Literal["record", "suppress"] = "record"


@dataclass(frozen=True)
class PoolConfig:
    default: list[str] = field(default_factory=list)  # source IPs; empty: the OS chooses
    by_from_domain: dict[str, list[str]] = field(default_factory=dict)
