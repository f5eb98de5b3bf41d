"""Shared pieces of the bounce-policy tests: the example config on loopback, the CLI as a
subprocess, and DSN messages."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from bounced.config import Config
from bounced.config.loader import build
from tests.conftest import free_port
from tests.submission.nexthop import NextHop

__all__ = ["REPO", "SECRET", "VERP_DOMAIN", "example_config", "outbound", "run_cli"]

REPO = Path(__file__).resolve().parents[2]
SECRET = "policy-secret-0123456789"
VERP_DOMAIN = "bounces.example.net"


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = (
            _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out


def example_config(tmp_path: Path, hop: NextHop | None = None, **sections: dict[str, Any]) -> Config:
    """config/bounced.toml as shipped, with only what a test host needs changed: loopback
    ports, the database in `tmp_path`, the sending side on with a VERP secret, and the
    given overrides (TOML-shaped, through the real loader)."""
    data = tomllib.loads((REPO / "config" / "bounced.toml").read_text(encoding="utf-8"))
    local: dict[str, Any] = {
        "smtp": {"listen": f"127.0.0.1:{free_port()}", "hostname": "mx.test", "domains": [VERP_DOMAIN]},
        "storage": {"path": str(tmp_path / "bounced.sqlite3")},
        "submission": {"enabled": hop is not None, "listen": f"127.0.0.1:{free_port()}"},
        "verp": {"domain": VERP_DOMAIN, "secret": SECRET},
    }
    if hop is not None:
        local["relay"] = {"host": hop.host, "port": hop.port, "timeout": 5.0}
    return build(Config, _merge(_merge(data, local), sections))


def outbound(to: str, subject: str = "Hello", sender: str = "news@shop.example") -> bytes:
    return (
        f"From: Shop <{sender}>\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject.replace(' ', '.')}.{to}@shop.example>\r\nX-Mailing-ID: m-1\r\n"
        "\r\nBody.\r\n"
    ).encode()


def run_cli(config_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real `bounced` command line, as a subprocess."""
    env = {k: v for k, v in os.environ.items() if k not in ("SUDO_USER", "BOUNCED_CONFIG")}
    return subprocess.run(
        [sys.executable, "-m", "bounced", *args, "--config", str(config_file)],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=120, check=False,
    )  # fmt: skip
