"""The OpenAPI 3.0 document served at /openapi.json (validated in the tests)."""

from __future__ import annotations

from typing import Any

__all__ = ["openapi_document"]


def _param(
    name: str, where: str = "query", kind: str = "string", required: bool = False, doc: str = ""
) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": required or where == "path",
        "schema": {"type": kind},
        "description": doc,
    }


def _json(description: str, schema: str | None = None) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{schema}"} if schema else {"type": "object"}
    return {"description": description, "content": {"application/json": {"schema": ref}}}


_ERRORS = {
    "401": _json("missing or unknown bearer token", "Error"),
    "403": _json("the token's scope does not allow this", "Error"),
    "422": _json("a parameter is wrong; `field` names it", "Invalid"),
}
_EMAIL = _param("email", "path", doc="the address (normalised: domain lower-cased)")
_PERIOD = [
    _param("from", required=True, doc="start, inclusive: YYYY-MM-DD or ISO 8601 (UTC unless an offset)"),
    _param("to", doc="end, exclusive (default: now)"),
    _param("mailing", doc="one mailing (X-Mailing-ID)"),
    {"name": "group_by", "in": "query", "schema": {"type": "string", "enum": ["from-domain", "ip"]}},
    {"name": "kind", "in": "query", "schema": {"type": "string", "enum": ["soft", "undelivered"]}},
]


def _op(
    summary: str, ok: dict[str, Any], params: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {"200": ok, **_ERRORS}}
    if params:
        op["parameters"] = params
    op.update(extra)
    return op


def _body(schema: str) -> dict[str, Any]:
    return {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def openapi_document(version: str) -> dict[str, Any]:
    text_file = {
        "text/csv": {"schema": {"type": "string"}},
        "application/x-ndjson": {"schema": {"type": "string"}},
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "bounced",
            "version": version,
            "description": "Bounces, the suppression list and the soft-bounce report of a return-path host. "
            "Bearer tokens from [http].tokens; scope read: GET; admin: everything.",
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "properties": {"error": {"type": "string"}}},
                "Invalid": {
                    "type": "object",
                    "properties": {"error": {"type": "string"}, "field": {"type": "string"}},
                    "required": ["error", "field"],
                },
                "Suppression": {
                    "type": "object",
                    "properties": {
                        "address": {"type": "string"},
                        "reason": {"type": "string"},
                        "created_at": {"type": "string", "format": "date-time"},
                        "created_by": {"type": "string"},
                        "bounce_event_id": {"type": "integer", "nullable": True},
                        "note": {"type": "string", "nullable": True},
                    },
                },
                "SuppressionPage": {
                    "type": "object",
                    "properties": {
                        "entries": {"type": "array", "items": {"$ref": "#/components/schemas/Suppression"}},
                        "total": {"type": "integer"},
                        "next_cursor": {"type": "string", "nullable": True},
                    },
                },
                "AddSuppression": {
                    "type": "object",
                    "required": ["email", "reason"],
                    "properties": {
                        "email": {"type": "string"},
                        "reason": {"type": "string"},
                        "note": {"type": "string"},
                    },
                },
                "Reason": {
                    "type": "object",
                    "required": ["reason"],
                    "properties": {"reason": {"type": "string"}},
                },
                "HookDelivery": {
                    "type": "object",
                    "properties": {
                        "delivery_id": {"type": "integer"},
                        "hook": {"type": "string"},
                        "state": {"type": "string", "enum": ["pending", "delivered", "dead"]},
                        "attempts": {"type": "integer"},
                        "next_at": {"type": "string", "format": "date-time"},
                        "done_at": {"type": "string", "format": "date-time", "nullable": True},
                        "last_error": {"type": "string", "nullable": True},
                        "event": {"type": "object", "description": "the webhook body (docs/webhooks.md)"},
                    },
                },
                "Replay": {
                    "type": "object",
                    "required": ["from"],
                    "properties": {
                        "from": {"type": "string", "format": "date"},
                        "hook": {"type": "string", "description": "only this hook or broker (default: all)"},
                    },
                },
                "SignRequest": {
                    "type": "object",
                    "required": ["recipient"],
                    "properties": {
                        "recipient": {"type": "string"},
                        "mailing": {"type": "string", "description": "mailing id, at most 20 bytes"},
                        "date": {"type": "string", "format": "date", "description": "send date (today)"},
                    },
                },
                "SignedReturnPath": {
                    "type": "object",
                    "properties": {
                        "return_path": {"type": "string"},
                        "recipient": {"type": "string"},
                        "mailing": {"type": "string", "nullable": True},
                        "date": {"type": "string", "format": "date"},
                    },
                },
                "ImportResult": {
                    "type": "object",
                    "properties": {
                        "added": {"type": "integer"},
                        "already_present": {"type": "integer"},
                        "invalid": {"type": "integer"},
                        "problems": {"type": "array", "items": {"type": "string"}},
                    },
                },
            },
        },
        "security": [{"bearer": []}],
        "paths": {
            "/healthz": {"get": _op("the process is alive; its version", _json("alive"), security=[])},
            "/readyz": {
                "get": _op(
                    "store writable, listener up, backlog under http.ready_max_backlog",
                    _json("ready"),
                    security=[],
                    responses={"200": _json("ready"), "503": _json("not ready: `checks` says which")},
                )
            },
            "/metrics": {
                "get": _op(
                    "Prometheus metrics (text format)",
                    {"description": "metrics", "content": {"text/plain": {"schema": {"type": "string"}}}},
                )
            },
            "/api/v1/suppressions": {
                "get": _op(
                    "the list, oldest first, a page at a time",
                    _json("a page", "SuppressionPage"),
                    [
                        _param("cursor", doc="next_cursor of the previous page"),
                        _param("limit", kind="integer", doc="1 to 10000 (default 1000)"),
                    ],
                ),
                "post": _op(
                    "suppress an address (audited as api:TOKEN-NAME)",
                    _json("already suppressed"),
                    requestBody=_body("AddSuppression"),
                    responses={"201": _json("added"), "200": _json("already suppressed"), **_ERRORS},
                ),
            },
            "/api/v1/suppressions/export": {
                "get": _op(
                    "the whole list, streamed",
                    {"description": "the list", "content": text_file},
                    [
                        {
                            "name": "format",
                            "in": "query",
                            "schema": {"type": "string", "enum": ["csv", "jsonl"]},
                        }
                    ],
                )
            },
            "/api/v1/suppressions/import": {
                "post": _op(
                    "add the addresses of an export, JSON lines or one a line (audited, idempotent)",
                    _json("counts", "ImportResult"),
                    [_param("reason", required=True)],
                    requestBody={
                        "required": True,
                        "content": {**text_file, "text/plain": {"schema": {"type": "string"}}},
                    },
                )
            },
            "/api/v1/suppressions/audit": {"get": _op("the audit log", _json("entries"), [_param("email")])},
            "/api/v1/suppressions/{email}": {
                "get": _op(
                    "is it suppressed?",
                    _json("suppressed"),
                    [_EMAIL],
                    responses={"200": _json("suppressed"), "404": _json("not suppressed"), **_ERRORS},
                ),
                "delete": _op(
                    "take it off the list (reason required; audited)",
                    _json("removed"),
                    [_EMAIL, _param("reason", doc='why (or a JSON body {"reason": ...})')],
                    responses={"200": _json("removed"), "404": _json("was not suppressed"), **_ERRORS},
                ),
            },
            "/api/v1/profiles/{email}": {
                "get": _op(
                    "status and bounce history",
                    _json("the profile"),
                    [_EMAIL, _param("events", kind="integer")],
                    responses={"200": _json("profile"), "404": _json("never bounced"), **_ERRORS},
                )
            },
            "/api/v1/events": {
                "get": _op(
                    "bounce events with id > after, in id order (poll with next_after)",
                    _json("a page"),
                    [_param("after", kind="integer"), _param("limit", kind="integer")],
                )
            },
            "/api/v1/non-deliveries": {
                "get": _op(
                    "deliveries given up after all resends",
                    _json("a page"),
                    [_param("from"), _param("to"), _param("mailing"), _param("limit", kind="integer")],
                )
            },
            "/api/v1/queue": {
                "get": _op(
                    "the resend queue",
                    _json("jobs and counts"),
                    [_param("limit", kind="integer"), _param("all", kind="boolean")],
                )
            },
            "/api/v1/report": {
                "get": _op(
                    "the soft-bounce (or non-delivery) report",
                    {
                        "description": "the report",
                        "content": {
                            "application/json": {"schema": {"type": "object"}},
                            "text/csv": {"schema": {"type": "string"}},
                            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                                "schema": {"type": "string", "format": "binary"}
                            },
                        },
                    },
                    [
                        *_PERIOD,
                        {
                            "name": "format",
                            "in": "query",
                            "schema": {"type": "string", "enum": ["json", "csv", "xlsx"]},
                        },
                    ],
                )
            },
            "/api/v1/hooks": {
                "get": _op(
                    "webhook and broker deliveries, oldest first (bounced hooks list --json)",
                    {
                        "description": "deliveries",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/HookDelivery"},
                                }
                            }
                        },
                    },
                    [
                        _param("hook", doc="only this hook or broker (its name; else a hook's url)"),
                        {
                            "name": "state",
                            "in": "query",
                            "schema": {"type": "string", "enum": ["pending", "delivered", "dead"]},
                        },
                        _param("from", doc="events recorded on or after YYYY-MM-DD (UTC)"),
                        _param("limit", kind="integer", doc="default 1000"),
                    ],
                )
            },
            "/api/v1/hooks/events/{event_id}": {
                "get": _op(
                    "one event: its JSON body and its delivery to each hook (bounced hooks show)",
                    _json("the event and its deliveries"),
                    [_param("event_id", "path", "integer")],
                    responses={"200": _json("found"), "404": _json("no such event", "Error"), **_ERRORS},
                )
            },
            "/api/v1/hooks/replay": {
                "post": _op(
                    "queue every event since a date again, per hook (admin; bounced hooks replay)",
                    _json("events queued again, per hook"),
                    requestBody=_body("Replay"),
                )
            },
            "/api/v1/verp/sign": {
                "post": _op(
                    "the signed return path for a recipient (admin; bounced verp sign; docs/signing.md)",
                    _json("the return path", "SignedReturnPath"),
                    requestBody=_body("SignRequest"),
                    responses={
                        "200": _json("signed", "SignedReturnPath"),
                        "409": _json("no signing key configured", "Error"),
                        **_ERRORS,
                    },
                )
            },
            "/api/v1/report/examples": {
                "get": _op(
                    "a report row's soft bounces (diagnostic, raw message where kept)",
                    _json("examples"),
                    [
                        *_PERIOD,
                        _param("group"),
                        _param("recipient_domain"),
                        _param("text"),
                        _param("limit", kind="integer"),
                    ],
                )
            },
        },
    }
