"""The soft-bounce report over HTTP: JSON, CSV and XLSX downloads and a row's example bounces,
made by `bounced.service.report` exactly as `bounced report` makes them."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from bounced.http.api import int_param
from bounced.http.context import ApiContext
from bounced.service.errors import InvalidInput
from bounced.service.report import ReportQuery, produce_report, report_examples, report_query

__all__ = ["examples_for", "query_from", "report_json", "report_routes"]

DOWNLOADS = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def query_from(request: Request, params: Mapping[str, str] | None = None) -> ReportQuery:
    """The report query of `params` (default: the request's query string)."""
    q = request.query_params if params is None else params
    ctx: ApiContext = request.app.state.ctx
    return report_query(
        q.get("from"),
        q.get("to"),
        ctx.clock.now(),
        q.get("kind", "soft"),
        q.get("group_by", "from-domain"),
        q.get("mailing"),
    )


async def report_json(ctx: ApiContext, query: ReportQuery) -> dict[str, Any]:
    """The report as the CLI's `--format json` writes it."""
    folder = Path(tempfile.mkdtemp(prefix="bounced-report-"))
    try:
        await produce_report(ctx.store, query, "json", folder / "report.json")
        data: dict[str, Any] = json.loads((folder / "report.json").read_text(encoding="utf-8"))
        return data
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def report(request: Request) -> Response:
    query = query_from(request)
    fmt = request.query_params.get("format", "json")
    if fmt not in DOWNLOADS:
        raise InvalidInput("format", f"expected one of {', '.join(DOWNLOADS)}, got {fmt!r}")
    ctx: ApiContext = request.app.state.ctx
    folder = Path(tempfile.mkdtemp(prefix="bounced-report-"))
    what = "soft-bounces" if query.kind == "soft" else "non-deliveries"
    name = f"{what}-{query.start:%Y%m%d}-{query.end:%Y%m%d}"
    try:
        path = folder / f"{name}.{fmt}"
        await produce_report(ctx.store, query, fmt, path)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileResponse(
        path,
        media_type=DOWNLOADS[fmt],
        filename=path.name,
        content_disposition_type="inline" if fmt == "json" else "attachment",
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )


async def examples_for(request: Request) -> list[dict[str, Any]]:
    """The examples of the report row named by the query (group, recipient_domain, text)."""
    ctx: ApiContext = request.app.state.ctx
    q = request.query_params
    return await report_examples(
        ctx.store,
        query_from(request),
        q.get("group", ""),
        q.get("recipient_domain", ""),
        q.get("text", ""),
        int_param(request, "limit", 20),
        with_raw=q.get("raw", "true") != "false",
    )


async def examples(request: Request) -> Response:
    return JSONResponse({"examples": await examples_for(request)})


def report_routes() -> list[Route]:
    return [
        Route("/api/v1/report", report, methods=["GET"]),
        Route("/api/v1/report/examples", examples, methods=["GET"]),
    ]
