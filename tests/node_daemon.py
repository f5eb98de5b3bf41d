"""A node of several: a real `bounced serve` on the shared PostgreSQL database, with its own
config, local intake spool, SMTP port and HTTP port (for /readyz and /metrics)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sqlite3
import sys
import time
import urllib.request
from pathlib import Path

import aiosmtplib

# This worker's ports, below the ephemeral range (a bind(0) port, closed again, may be taken
# by another process's connection before the node binds it).
from tests.conftest import free_port

__all__ = ["NodeDaemon", "free_port", "local_pending", "rcpt_code", "render_config"]

TOKEN = "node-test-token-0123456789"


async def rcpt_code(port: int, address: str) -> int:
    """The reply code a submission port gives to RCPT `address` (550: suppressed)."""
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=30)
    await client.connect()
    try:
        await client.mail("news@shop.example")
        try:
            return (await client.rcpt(address)).code
        except aiosmtplib.SMTPRecipientRefused as exc:
            return exc.code
    finally:
        client.close()


def local_pending(spool: Path) -> int:
    """Messages of a node's local spool not yet applied to the central store (read directly)."""
    if not spool.exists():
        return 0
    conn = sqlite3.connect(f"file:{spool}?mode=ro", uri=True, timeout=10)
    try:
        return int(conn.execute("SELECT count(*) FROM intake WHERE state = 'pending'").fetchone()[0])
    finally:
        conn.close()


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string for what these configs hold
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {value!r}")


def render_config(sections: dict[str, dict[str, object]]) -> str:
    """`{"smtp": {...}, "policy.guard": {...}}` as a TOML file; section "" holds top-level
    keys (e.g. `webhooks = [{...}]`)."""
    lines = [f"{key} = {_toml(value)}" for key, value in sections.get("", {}).items()]
    for name, values in sections.items():
        if not name:
            continue
        lines.append(f"[{name}]")
        lines.extend(f"{key} = {_toml(value)}" for key, value in values.items())
    return "\n".join(lines) + "\n"


class NodeDaemon:
    def __init__(
        self,
        workdir: Path,
        node: str,
        dsn: str,
        extra: dict[str, dict[str, object]] | None = None,
        workers: int = 0,
    ) -> None:
        self.workdir = workdir
        self.node = node
        self.spool = workdir / f"{node}.sqlite3"
        self.config = workdir / f"{node}.toml"
        self.port = free_port()
        self.http_port = free_port()
        sections: dict[str, dict[str, object]] = {
            "smtp": {"listen": f"127.0.0.1:{self.port}", "domains": ["bounces.example.com"]},
            "storage": {
                "backend": "postgresql", "dsn": dsn, "node": node, "path": str(self.spool),
                "pool_size": 4, "busy_timeout": 5.0,
            },
            "verp": {"unsigned_bounces": "suppress"},
            # Thousands of identical hard bounces to one domain: the mass-failure guard would
            # (rightly) hold them; this checks exactly-once, not the guard.
            "policy.guard": {"enabled": False},
            "processing": {"workers": workers, "burst_hold": 0.2},
            "http": {
                "enabled": True, "listen": f"127.0.0.1:{self.http_port}",
                "tokens": [{"name": "test", "token": TOKEN}],
            },
        }  # fmt: skip
        for name, values in (extra or {}).items():
            sections[name] = {**sections.get(name, {}), **values}
        self.config.write_text(render_config(sections))
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0

    @property
    def log(self) -> Path:
        return self.workdir / f"{self.node}.{self.starts}.log"

    async def start(self, timeout: float = 60.0) -> None:
        """Start and wait until it listens (a killed node's port may be busy a moment)."""
        deadline = time.monotonic() + timeout
        while True:
            self.starts += 1
            log = open(self.log, "wb")  # noqa: SIM115 - the child's
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bounced", "serve", "--config", str(self.config),
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=log,
            )  # fmt: skip
            log.close()
            while self.proc.returncode is None and b"msg=started" not in self.log.read_bytes():
                await asyncio.sleep(0.05)
            if self.proc.returncode is None:
                return
            if time.monotonic() > deadline:
                tail = self.log.read_text(errors="replace").strip().splitlines()[-3:]
                raise RuntimeError(f"node {self.node} does not start: {' | '.join(tail)}")
            await asyncio.sleep(0.2)

    def kill(self) -> None:
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGKILL)

    async def stop(self) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.proc.wait(), 60)

    async def http_get(self, path: str) -> tuple[int, str]:
        """GET on the node's HTTP port (status, body), in a thread: urllib is blocking."""

        def get() -> tuple[int, str]:
            request = urllib.request.Request(
                f"http://127.0.0.1:{self.http_port}{path}", headers={"Authorization": f"Bearer {TOKEN}"}
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    return int(response.status), response.read().decode()
            except urllib.error.HTTPError as exc:
                return int(exc.code), exc.read().decode()

        return await asyncio.to_thread(get)

    async def readyz(self) -> tuple[int, dict[str, object]]:
        status, body = await self.http_get("/readyz")
        return status, json.loads(body)

    async def metric(self, name: str) -> float | None:
        _, body = await self.http_get("/metrics")
        for line in body.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        return None
