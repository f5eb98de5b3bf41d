"""The webhook client against real local HTTP servers: signed headers, kept-alive connections
(at most `concurrency`), redirects not followed, timeouts and refused connections reported."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from bounced.config import WebhookConfig
from bounced.webhooks.payload import verify_signature
from bounced.webhooks.poster import Poster
from tests.conftest import free_port

SECRET = "whsec-0123456789abcdef"


class Server:
    def __init__(self) -> None:
        self.port = free_port()
        self.posts: list[tuple[dict[str, str], bytes, int]] = []  # headers, body, client port
        self.redirected = 0
        self.runner: web.AppRunner | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def hooks(self, request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        self.posts.append((dict(request.headers), await request.read(), peer[1] if peer else 0))
        await asyncio.sleep(0.01)  # overlap, so concurrent POSTs would need new connections
        return web.Response(status=204)

    async def moved(self, request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect(location="/elsewhere")

    async def elsewhere(self, request: web.Request) -> web.Response:
        self.redirected += 1
        return web.Response(status=200)

    async def slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(status=200)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks", self.hooks)
        app.router.add_post("/moved", self.moved)
        app.router.add_post("/elsewhere", self.elsewhere)
        app.router.add_post("/slow", self.slow)
        self.runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    s = Server()
    await s.start()
    yield s
    assert s.runner is not None
    await s.runner.cleanup()


async def test_posts_are_signed_and_share_at_most_concurrency_connections(server: Server) -> None:
    poster = Poster(concurrency=4)
    hook = WebhookConfig(url=server.url("/hooks"), secret=SECRET, timeout=5.0)
    gate = asyncio.Semaphore(4)  # as the dispatcher limits its POSTs in flight
    now = int(time.time())

    async def one(i: int) -> str | None:
        async with gate:
            return await poster.post(hook, i, json.dumps({"id": i}).encode(), now)

    try:
        errors = await asyncio.gather(*(one(i) for i in range(60)))
    finally:
        await poster.close()
    assert errors == [None] * 60
    assert sorted(json.loads(body)["id"] for _, body, _ in server.posts) == list(range(60))
    for headers, body, _ in server.posts:
        assert verify_signature(SECRET, headers["Bounced-Signature"], body, now)
        assert headers["Idempotency-Key"] == str(json.loads(body)["id"])
        assert headers["Content-Type"] == "application/json"
    assert 1 <= len({port for _, _, port in server.posts}) <= 4  # kept alive, not one per POST


async def test_a_redirect_is_a_failure_and_is_not_followed(server: Server) -> None:
    poster = Poster(concurrency=2)
    try:
        error = await poster.post(WebhookConfig(url=server.url("/moved"), secret=SECRET), 1, b"{}", 0)
    finally:
        await poster.close()
    assert error == "HTTP 307" and server.redirected == 0


async def test_timeouts_and_refused_connections_are_reported_not_raised(server: Server) -> None:
    poster = Poster(concurrency=2)
    try:
        slow_hook = WebhookConfig(url=server.url("/slow"), secret=SECRET, timeout=0.2)
        slow = await poster.post(slow_hook, 1, b"{}", 0)
        refused = await poster.post(
            WebhookConfig(url=f"http://127.0.0.1:{free_port()}/hooks", secret=SECRET), 2, b"{}", 0
        )
    finally:
        await poster.close()
    assert slow is not None and "Timeout" in slow
    assert refused is not None and refused.startswith("ClientConnectorError")
