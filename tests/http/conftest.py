"""A real `bounced` daemon with [http] enabled on a free loopback port, and clients for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port
from tests.harness import RunningDaemon, make_config, running_daemon

READ = "read-token-0123456789"
ADMIN = "admin-token-0123456789"


def http_config(tmp_path: Path, acceptors: int = 0, **extra: dict[str, Any]) -> Any:
    return make_config(
        tmp_path,
        smtp={"acceptors": acceptors, "domains": ["bounces.sender.test"]},
        verp={"unsigned_bounces": "suppress"},
        processing={"workers": 0},
        http={
            "enabled": True,
            "listen": f"127.0.0.1:{free_port()}",
            "max_request_size": 200_000,
            "tokens": [
                {"name": "dashboard", "token": READ, "scope": "read"},
                {"name": "ops", "token": ADMIN, "scope": "admin"},
            ],
        },
        **extra,
    )


def client(d: RunningDaemon, token: str | None = ADMIN) -> httpx.AsyncClient:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{d.daemon.http_port}", headers=headers, timeout=30)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[RunningDaemon]:
    async with running_daemon(http_config(tmp_path)) as d:
        yield d
