"""The JSON resources under /api/v1: thin adapters from HTTP to `bounced.service`.

Every handler parses its parameters (InvalidInput names the bad one: 422), calls the same
service method as the CLI command it mirrors, and returns that method's JSON value."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from bounced.http.context import ApiContext
from bounced.service.errors import InvalidInput
from bounced.service.suppressions import SuppressionService
from bounced.service.transfer import EXPORT_FORMATS, MEDIA_TYPES, export_chunk, export_header
from bounced.service.values import suppression_dict
from bounced.service.views import Views

__all__ = ["actor", "api_routes", "int_param"]


def int_param(request: Request, name: str, default: int) -> int:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise InvalidInput(name, f"expected an integer, got {text!r}") from None


def bool_param(request: Request, name: str) -> bool:
    text = request.query_params.get(name, "false").lower()
    if text not in ("true", "false", "1", "0"):
        raise InvalidInput(name, f"expected true or false, got {text!r}")
    return text in ("true", "1")


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise InvalidInput("body", f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInput("body", "expected a JSON object")
    return data


def text_field(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidInput(name, f"expected a string, got {type(value).__name__}")
    return value


def actor(request: Request) -> str:
    """Who the audit log names: the token's name, marked as coming through the API."""
    token = request.scope["state"].get("token")
    return f"api:{token.name}" if token else "api"


def _ctx(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


def _suppressions(request: Request) -> SuppressionService:
    ctx = _ctx(request)
    return SuppressionService(ctx.store, ctx.clock)


async def list_suppressions(request: Request) -> Response:
    page = await _suppressions(request).page(
        request.query_params.get("cursor"), int_param(request, "limit", 1000)
    )
    return JSONResponse(
        {
            "entries": [suppression_dict(e) for e in page.entries],
            "total": page.total,
            "next_cursor": page.next_cursor,
        }
    )


async def get_suppression(request: Request) -> Response:
    address, entry = await _suppressions(request).get(request.path_params["email"])
    body = {"address": address, "suppressed": entry is not None, "entry": suppression_dict(entry)}
    return JSONResponse(body, status_code=200 if entry is not None else 404)


async def add_suppression(request: Request) -> Response:
    data = await json_body(request)
    address, added, entry = await _suppressions(request).add(
        text_field(data, "email") or "", text_field(data, "reason"), actor(request), text_field(data, "note")
    )
    body = {"address": address, "added": added, "entry": suppression_dict(entry)}
    return JSONResponse(body, status_code=201 if added else 200)


async def remove_suppression(request: Request) -> Response:
    data = await json_body(request)
    reason = text_field(data, "reason") or request.query_params.get("reason")
    address, removed = await _suppressions(request).remove(
        request.path_params["email"], reason, actor(request)
    )
    return JSONResponse({"address": address, "removed": removed}, status_code=200 if removed else 404)


async def export_suppressions(request: Request) -> Response:
    fmt = request.query_params.get("format", "csv")
    if fmt not in EXPORT_FORMATS:
        raise InvalidInput("format", f"expected one of {', '.join(EXPORT_FORMATS)}, got {fmt!r}")
    service = _suppressions(request)

    async def body() -> AsyncIterator[str]:
        yield export_header(fmt)
        async for batch in service.export_entries():
            yield export_chunk(fmt, batch)

    disposition = f'attachment; filename="suppressions.{fmt}"'
    return StreamingResponse(
        body(), media_type=MEDIA_TYPES[fmt], headers={"content-disposition": disposition}
    )


async def import_suppressions(request: Request) -> Response:
    raw = await request.body()
    result = await _suppressions(request).import_lines(
        raw.decode("utf-8", "replace").splitlines(keepends=True),
        request.query_params.get("reason"),
        actor(request),
    )
    return JSONResponse(result.as_dict())


async def audit(request: Request) -> Response:
    return JSONResponse(await Views(_ctx(request).store).audit(request.query_params.get("email")))


async def profile(request: Request) -> Response:
    ctx = _ctx(request)
    view = await Views(ctx.store, ctx.config() if ctx.config else None).profile(
        request.path_params["email"], int_param(request, "events", 10)
    )
    if view is None:
        return JSONResponse({"error": "no profile (never bounced, never suppressed)"}, status_code=404)
    return JSONResponse(view.data)


async def events(request: Request) -> Response:
    feed = await Views(_ctx(request).store).events_feed(
        int_param(request, "after", 0), int_param(request, "limit", 1000)
    )
    return JSONResponse(feed)


async def non_deliveries(request: Request) -> Response:
    q = request.query_params
    view = await Views(_ctx(request).store).non_deliveries(
        q.get("from"), q.get("to"), q.get("mailing"), int_param(request, "limit", 10_000)
    )
    return JSONResponse(view)


async def queue(request: Request) -> Response:
    view = await Views(_ctx(request).store).queue(
        int_param(request, "limit", 1000), bool_param(request, "all")
    )
    return JSONResponse(view)


def api_routes() -> list[Route]:
    """The route table. The webhook part adds its own (/api/v1/hooks...) through
    `ApiContext.extra_routes` at composition."""
    return [
        Route("/api/v1/suppressions", list_suppressions, methods=["GET"]),
        Route("/api/v1/suppressions", add_suppression, methods=["POST"]),
        Route("/api/v1/suppressions/export", export_suppressions, methods=["GET"]),
        Route("/api/v1/suppressions/import", import_suppressions, methods=["POST"]),
        Route("/api/v1/suppressions/audit", audit, methods=["GET"]),
        Route("/api/v1/suppressions/{email}", get_suppression, methods=["GET"]),
        Route("/api/v1/suppressions/{email}", remove_suppression, methods=["DELETE"]),
        Route("/api/v1/profiles/{email}", profile, methods=["GET"]),
        Route("/api/v1/events", events, methods=["GET"]),
        Route("/api/v1/non-deliveries", non_deliveries, methods=["GET"]),
        Route("/api/v1/queue", queue, methods=["GET"]),
    ]
