"""[smtp]: the return-path listener where bounces arrive."""

from __future__ import annotations

from dataclasses import dataclass, field

from bounced.errors import ConfigError

__all__ = ["SmtpConfig", "split_host_port"]


def split_host_port(key: str, value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not (0 <= int(port) <= 65535):
        raise ConfigError(key, f'expected "HOST:PORT", got {value!r}')
    return host.strip("[]") or "127.0.0.1", int(port)


@dataclass(frozen=True)
class SmtpConfig:
    listen: str = "127.0.0.1:2525"
    # Domains we accept bounces for. Empty: any domain, allowed only on a loopback listener.
    domains: list[str] = field(default_factory=list)
    hostname: str = ""  # the name in the greeting; default: the machine's FQDN
    max_message_size: int = 10 * 1024 * 1024
    max_recipients: int = 100
    max_connections: int = 500
    idle_timeout: float = 300.0
    data_timeout: float = 600.0
    tls_cert: str | None = None
    tls_key: str | None = None

    @property
    def host_port(self) -> tuple[str, int]:
        return split_host_port("smtp.listen", self.listen)

    def validate(self, key: str) -> None:
        self.host_port  # noqa: B018 - raises ConfigError on a bad value
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError(f"{key}.tls_cert", "tls_cert and tls_key go together")
        for name in ("max_message_size", "max_recipients", "max_connections"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{key}.{name}", "expected a positive integer")
