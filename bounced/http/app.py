"""The Starlette application: routes, error handlers, the guard, /healthz, /readyz, /metrics."""

from __future__ import annotations

import logging
from importlib import resources

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from bounced.errors import StoreError
from bounced.http.api import api_routes
from bounced.http.context import ApiContext
from bounced.http.guard import Guard
from bounced.http.hooks import hook_routes
from bounced.http.metrics import StateCollector, new_registry
from bounced.http.openapi import openapi_document
from bounced.http.page import page_routes
from bounced.http.reports import report_routes
from bounced.logfmt import kv
from bounced.service.errors import InvalidInput

__all__ = ["build_app"]

log = logging.getLogger(__name__)


async def _invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidInput)
    return JSONResponse({"error": str(exc), "field": exc.field}, status_code=422)


async def _store_error(request: Request, exc: Exception) -> Response:
    log.error("api store error", extra=kv(path=request.url.path, error=str(exc)))
    return JSONResponse({"error": f"store error: {exc}"}, status_code=503)


async def healthz(request: Request) -> Response:
    ctx: ApiContext = request.app.state.ctx
    return JSONResponse({"status": "ok", "version": ctx.version})


async def readyz(request: Request) -> Response:
    ctx: ApiContext = request.app.state.ctx
    checks: dict[str, object] = {}
    central_up = True
    try:
        checks["store_writable"] = await ctx.store.writable()
        if ctx.central is not None:  # a node: the central store probed, the local spool's backlog
            status = await ctx.central()
            central_up = status.up
            checks["central_store"] = "up" if status.up else f"unreachable: {status.error}"
            backlog = status.backlog
        else:
            backlog = (await ctx.store.metrics_snapshot(ctx.clock.now())).backlog
        checks["backlog"] = backlog
        checks["backlog_ok"] = backlog <= ctx.settings().ready_max_backlog
    except StoreError as exc:
        checks["store_writable"] = False
        checks["store_error"] = str(exc)
    checks["listener_up"] = ctx.listener_up()
    ready = bool(checks.get("store_writable") and checks.get("backlog_ok") and checks["listener_up"])
    ready = ready and central_up
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


async def openapi(request: Request) -> Response:
    ctx: ApiContext = request.app.state.ctx
    return JSONResponse(openapi_document(ctx.version))


def build_app(ctx: ApiContext) -> Starlette:
    state = StateCollector()
    registry, http_metrics = new_registry(state, ctx.extra_collectors)

    async def metrics(request: Request) -> Response:
        now = ctx.clock.now()
        central = None if ctx.central is None else await ctx.central()
        if central is not None and not central.up:
            snapshot = None  # the store's figures are the central store's: none to give now
        else:
            snapshot = await ctx.store.metrics_snapshot(now)
        state.refresh(snapshot, now, ctx.replies(), central)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    static = StaticFiles(directory=str(resources.files("bounced.http") / "static"))
    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        *api_routes(),
        *report_routes(),
        *hook_routes(),
        *page_routes(),
        *ctx.extra_routes,  # e.g. the webhook part's /api/v1/hooks (wired at composition)
        Mount("/static", static, name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(Guard, settings=ctx.settings, metrics=http_metrics)],
        exception_handlers={InvalidInput: _invalid, StoreError: _store_error},
    )
    app.state.ctx = ctx
    return app
