"""An in-process bounced for tests: real listener on a free loopback port, real SQLite file.

config = make_config(tmp_path, verp={"unsigned_bounces": "suppress"})
async with running_daemon(config) as d:
    await send_mail(d.smtp_port, "", ["b@bounces.example.com"], raw)
    await d.drained()
    profile = await d.store.get_profile("user@example.org")
"""

from __future__ import annotations

import errno
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiosmtplib

from bounced.clock import Clock
from bounced.config import Config
from bounced.config.loader import build
from bounced.daemon import Daemon
from bounced.sdnotify import Notifier
from bounced.store.base import Store
from tests.conftest import free_port

__all__ = ["RunningDaemon", "make_config", "running_daemon", "send_mail"]


class RunningDaemon:
    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon

    @property
    def smtp_port(self) -> int:
        return self.daemon.smtp_port

    @property
    def store(self) -> Store:
        return self.daemon.store

    @property
    def submission_port(self) -> int | None:
        return self.daemon.submission_port

    @property
    def config(self) -> Config:
        return self.daemon.config

    async def drained(self, timeout: float = 10.0) -> None:
        """Wait until every spooled message has left the pending state (no sleeps: the
        processor signals idleness; the listener clears it before answering 250)."""
        await self.daemon.processor.drained(timeout)


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def make_config(tmp_path: Path, **section_overrides: dict[str, Any]) -> Config:
    """A config on free loopback ports with the database in `tmp_path`. Overrides are TOML-
    shaped dicts per section, e.g. `smtp={"domains": ["bounces.example.com"]}`; they go
    through the real loader, so a wrong key fails the way it would in a file."""
    base: dict[str, Any] = {
        "smtp": {"listen": f"127.0.0.1:{free_port()}", "hostname": "mx.test"},
        "storage": {"path": str(tmp_path / "bounced.sqlite3")},
        "submission": {"listen": f"127.0.0.1:{free_port()}"},
    }
    return build(Config, _merge(base, section_overrides))


@asynccontextmanager
async def running_daemon(
    config: Config,
    clock: Clock | None = None,
    notifier: Notifier | None = None,
    *,
    retry_ports: bool = True,
) -> AsyncIterator[RunningDaemon]:
    """`retry_ports`: when a port is taken at start (another run took it between
    `free_port()` and the bind), start again on fresh ports; False for a test that takes
    the port on purpose."""
    for attempt in range(3):
        daemon = Daemon(config, clock, notifier or Notifier(""))
        try:
            await daemon.start()
            break
        except OSError as exc:  # another run took a port between free_port() and the bind
            if not retry_ports or exc.errno != errno.EADDRINUSE or attempt == 2:
                raise
            config = _fresh_ports(config)
    try:
        yield RunningDaemon(daemon)
    finally:
        await daemon.stop()


def _fresh_ports(config: Config) -> Config:
    """`config` with new free ports for the listeners configured on one."""

    def moved(listen: str) -> str:
        host, _, port = listen.rpartition(":")
        return listen if port == "0" else f"{host}:{free_port()}"

    return replace(
        config,
        smtp=replace(config.smtp, listen=moved(config.smtp.listen)),
        submission=replace(config.submission, listen=moved(config.submission.listen)),
        http=replace(config.http, listen=moved(config.http.listen)),
    )


async def send_mail(
    port: int, mail_from: str, rcpt_tos: Sequence[str], raw: bytes, *, host: str = "127.0.0.1"
) -> tuple[dict[str, Any], str]:
    """Send `raw` over SMTP; returns aiosmtplib's (refused recipients, final reply text).
    Raises aiosmtplib.SMTPResponseException subclasses on a refused message."""
    # aiosmtplib.send() refuses an empty sender, but bounces arrive with MAIL FROM:<>.
    client = aiosmtplib.SMTP(hostname=host, port=port, start_tls=False, timeout=30)
    async with client:
        return await client.sendmail(mail_from, list(rcpt_tos), raw)
