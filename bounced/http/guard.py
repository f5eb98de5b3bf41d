"""The ASGI middleware in front of every route: request metrics, the body size limit, and
bearer-token authentication with a scope per token (read: GET/HEAD; admin: everything).

A token comes in `Authorization: Bearer ...`; for GET requests the report page's cookie
(`bounced_token`, set by the page's own script) counts too, so its download links work. No
cookie ever authorises a change: that takes the header."""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Callable
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import unquote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bounced.config.http import HttpConfig, HttpToken
from bounced.http.metrics import HttpMetrics

__all__ = ["COOKIE", "Guard"]

COOKIE = "bounced_token"
PUBLIC = frozenset({"/healthz", "/readyz", "/openapi.json", "/favicon.ico"})
PAGES = frozenset({"/report", "/report/examples"})  # render a token form when not signed in


class _TooLarge(Exception):
    pass


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def find_token(tokens: list[HttpToken], scope: Scope) -> HttpToken | bool | None:
    """The matching token; None when none was given; False when one was given and is wrong."""
    given: str | None = None
    auth = _header(scope, b"authorization")
    if auth is not None:
        kind, _, value = auth.partition(" ")
        given = value.strip() if kind.lower() == "bearer" else ""
    elif scope.get("method") in ("GET", "HEAD"):
        cookie = _header(scope, b"cookie")
        if cookie:
            jar: SimpleCookie = SimpleCookie()
            jar.load(cookie)
            if COOKIE in jar:
                given = unquote(jar[COOKIE].value)  # the page's script URI-encodes it
    if given is None:
        return None
    for tok in tokens:  # compare_digest: no timing hint of how much of a token matched
        if hmac.compare_digest(tok.token.encode(), given.encode()):
            return tok
    return False


class Guard:
    def __init__(self, app: ASGIApp, settings: Callable[[], HttpConfig], metrics: HttpMetrics) -> None:
        self.app = app
        self.settings = settings
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = {"code": 500}

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self._guarded(scope, receive, counting_send)
        finally:
            route = _route_name(scope)
            self.metrics.requests.labels(scope["method"], route, str(status["code"])).inc()
            self.metrics.duration.labels(route).observe(time.perf_counter() - began)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        cfg = self.settings()
        path = scope["path"]
        token = find_token(cfg.tokens, scope)
        state = scope.setdefault("state", {})
        state["token"], state["token_refused"] = token or None, token is False
        public = path in PUBLIC or path.startswith("/static/")
        public = public or (path == "/metrics" and not cfg.metrics_auth)
        if not public:
            if not isinstance(token, HttpToken):
                if path not in PAGES:  # a page without a (valid) token shows its sign-in form
                    why = "missing bearer token" if token is None else "unknown token"
                    await _json(send, 401, {"error": why}, {"www-authenticate": 'Bearer realm="bounced"'})
                    return
            elif scope["method"] not in ("GET", "HEAD") and token.scope != "admin":
                await _json(send, 403, {"error": f"token {token.name!r} has scope read; this needs admin"})
                return
        limit = cfg.max_request_size
        length = _header(scope, b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await _json(send, 413, {"error": f"request body over {limit} bytes (http.max_request_size)"})
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:  # a chunked body with no length that grew past the limit
            if not started:
                await _json(send, 413, {"error": f"request body over {limit} bytes (http.max_request_size)"})


def _route_name(scope: Scope) -> str:
    """The route's pattern ("/api/v1/suppressions/{email}"), not the path: bounded labels."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


async def _json(send: Send, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
    payload = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})
