"""/api/v1/hooks (webhook deliveries: list, show, replay) and /api/v1/verp/sign: the same
functions as `bounced hooks ...` and `bounced verp sign` (bounced.webhooks.service,
bounced.verp.sign), with the same JSON answers as their `--json` output."""

from __future__ import annotations

from datetime import UTC, date, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bounced.errors import ConfigError, VerpError
from bounced.http.api import int_param, json_body, text_field
from bounced.http.context import ApiContext
from bounced.model import WebhookState
from bounced.service.errors import InvalidInput
from bounced.verp.sign import return_path_for
from bounced.webhooks import service

__all__ = ["hook_routes", "parse_day"]


def _ctx(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


def parse_day(name: str, text: str | None) -> date | None:
    if text is None or text == "":
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(name, f"expected a date YYYY-MM-DD, got {text!r}") from None


def _midnight(day: date | None) -> datetime | None:
    return None if day is None else datetime(day.year, day.month, day.day, tzinfo=UTC)


async def list_hooks(request: Request) -> Response:
    q = request.query_params
    state_text = q.get("state")
    if state_text and state_text not in {s.value for s in WebhookState}:
        raise InvalidInput("state", f"expected one of {', '.join(s.value for s in WebhookState)}")
    rows = await service.list_deliveries(
        _ctx(request).store,
        q.get("hook") or None,
        WebhookState(state_text) if state_text else None,
        _midnight(parse_day("from", q.get("from"))),
        int_param(request, "limit", 1000),
    )
    return JSONResponse([service.delivery_dict(d) for d in rows])


async def show_hook_event(request: Request) -> Response:
    text = request.path_params["event_id"]
    if not text.isdigit():
        raise InvalidInput("event_id", f"expected an integer, got {text!r}")
    found = await service.show_event(_ctx(request).store, int(text))
    if found is None:
        return JSONResponse({"error": f"no webhook event {text}"}, status_code=404)
    return JSONResponse(service.show_dict(found))


async def replay_hooks(request: Request) -> Response:
    ctx = _ctx(request)
    data = await json_body(request)
    since = _midnight(parse_day("from", text_field(data, "from") or request.query_params.get("from")))
    if since is None:
        raise InvalidInput("from", "required: YYYY-MM-DD (UTC), events recorded on or after it")
    hook = text_field(data, "hook") or request.query_params.get("hook")
    if ctx.config is None:
        return JSONResponse({"error": "no configuration to name the hooks"}, status_code=503)
    try:
        counts = await service.replay(ctx.store, ctx.config(), since, ctx.clock.now(), hook)
    except ConfigError as exc:
        raise InvalidInput("hook", str(exc)) from None
    return JSONResponse(counts)


async def verp_sign(request: Request) -> Response:
    """The signed return path for a recipient (and mailing): what `bounced verp sign` prints."""
    ctx = _ctx(request)
    data = await json_body(request)
    q = request.query_params
    recipient = text_field(data, "recipient") or q.get("recipient")
    if not recipient:
        raise InvalidInput("recipient", "required: the address the mail is sent to")
    mailing = text_field(data, "mailing") or q.get("mailing") or None
    sent = parse_day("date", text_field(data, "date") or q.get("date")) or ctx.clock.now().date()
    if ctx.config is None:
        return JSONResponse({"error": "no configuration: no signing key"}, status_code=503)
    try:
        path = return_path_for(ctx.config().verp, recipient, sent, mailing)
    except VerpError as exc:
        message = str(exc)
        if message.startswith("no signing key"):
            return JSONResponse({"error": message}, status_code=409)
        field = "mailing" if "mailing" in message else "date" if "send date" in message else "recipient"
        raise InvalidInput(field, message) from None
    body = {"return_path": path, "recipient": recipient, "mailing": mailing, "date": sent.isoformat()}
    return JSONResponse(body)


def hook_routes() -> list[Route]:
    # replay and sign are POST: the guard gives them to admin tokens only (a signed return
    # path can suppress its recipient).
    return [
        Route("/api/v1/hooks", list_hooks, methods=["GET"]),
        Route("/api/v1/hooks/events/{event_id}", show_hook_event, methods=["GET"]),
        Route("/api/v1/hooks/replay", replay_hooks, methods=["POST"]),
        Route("/api/v1/verp/sign", verp_sign, methods=["POST"]),
    ]
