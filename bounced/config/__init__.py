"""The configuration: one TOML file, typed sections, every setting with a working default.

`load_config(path)` is the only entry point; each component receives its own section.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from bounced.config.brokers import BrokerConfig
from bounced.config.classify import ClassifyConfig, ClassifyOverride
from bounced.config.http import HttpConfig, HttpToken
from bounced.config.loader import build
from bounced.config.policy import GuardConfig, PolicyConfig, SoftThreshold
from bounced.config.processing import ProcessingConfig
from bounced.config.resend import ResendConfig, RetryRuleConfig
from bounced.config.sending import PoolConfig, RelayConfig, SubmissionConfig, VerpConfig
from bounced.config.smtp import SmtpConfig, split_host_port
from bounced.config.storage import StorageConfig
from bounced.config.webhooks import WebhookConfig, WebhookDeliveryConfig, check_webhook_names
from bounced.errors import ConfigError

__all__ = [
    "BrokerConfig",
    "ClassifyConfig",
    "ClassifyOverride",
    "Config",
    "GuardConfig",
    "HttpConfig",
    "HttpToken",
    "LogConfig",
    "PolicyConfig",
    "PoolConfig",
    "ProcessingConfig",
    "RelayConfig",
    "ResendConfig",
    "RetryRuleConfig",
    "SmtpConfig",
    "SoftThreshold",
    "StorageConfig",
    "SubmissionConfig",
    "VerpConfig",
    "WebhookConfig",
    "WebhookDeliveryConfig",
    "config_path_from_env",
    "load_config",
    "split_host_port",
]

ENV_VAR = "BOUNCED_CONFIG"


@dataclass(frozen=True)
class LogConfig:
    level: Literal["debug", "info", "warning", "error"] = "info"


@dataclass(frozen=True)
class Config:
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    classify: ClassifyConfig = field(default_factory=ClassifyConfig)
    processing: ProcessingConfig = field(default_factory=ProcessingConfig)
    submission: SubmissionConfig = field(default_factory=SubmissionConfig)
    relay: RelayConfig = field(default_factory=RelayConfig)
    verp: VerpConfig = field(default_factory=VerpConfig)
    pools: PoolConfig = field(default_factory=PoolConfig)
    resend: ResendConfig = field(default_factory=ResendConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    log: LogConfig = field(default_factory=LogConfig)
    http: HttpConfig = field(default_factory=HttpConfig)
    webhooks: list[WebhookConfig] = field(default_factory=list)
    webhook_delivery: WebhookDeliveryConfig = field(default_factory=WebhookDeliveryConfig)
    brokers: list[BrokerConfig] = field(default_factory=list)
    source: str | None = field(default=None, metadata={"internal": True})  # the file, for messages

    def validate(self, key: str) -> Iterator[ConfigError]:
        sinks = [("webhooks", h.key) for h in self.webhooks] + [("brokers", b.key) for b in self.brokers]
        yield from check_webhook_names(sinks)

    @property
    def event_sinks(self) -> list[tuple[str, list[str]]]:
        """(key, event types) of every hook and broker: what the outbox delivers to."""
        return [(h.key, h.events) for h in self.webhooks] + [(b.key, b.events) for b in self.brokers]


def config_path_from_env(path: str | os.PathLike[str] | None) -> Path | None:
    if path is not None:
        return Path(path)
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else None


def parse_config(text: str, source: str | None = None) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("", f"{source or 'config'}: not valid TOML: {exc}") from None
    config = build(Config, data)
    return Config(**{**config.__dict__, "source": source})


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load `path`, else $BOUNCED_CONFIG, else the embedded defaults."""
    resolved = config_path_from_env(path)
    if resolved is None:
        return Config()
    try:
        text = resolved.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("", f"cannot read config file {resolved}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError("", f"config file {resolved} is not UTF-8") from None
    return parse_config(text, str(resolved))
