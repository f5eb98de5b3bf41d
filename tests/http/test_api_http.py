"""The API's HTTP contract over a real socket: tokens and scopes, 422 naming the field, the
size limit, health and readiness, the OpenAPI document, suppression add/remove/import/export."""

from __future__ import annotations

import json

import pytest
from openapi_spec_validator import validate

import bounced
from tests.harness import RunningDaemon
from tests.http.conftest import READ, client


async def test_tokens_and_scopes(api: RunningDaemon) -> None:
    async with client(api, None) as anon, client(api, "not-a-token-at-all-xx") as wrong:
        r = await anon.get("/api/v1/suppressions")
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
        assert r.json()["error"] == "missing bearer token"
        assert (await wrong.get("/api/v1/suppressions")).status_code == 401
        assert (await anon.get("/healthz")).status_code == 200  # public
    async with client(api, READ) as reader:
        assert (await reader.get("/api/v1/suppressions")).status_code == 200
        r = await reader.post("/api/v1/suppressions", json={"email": "a@example.org", "reason": "x"})
        assert r.status_code == 403 and "scope read" in r.json()["error"]
        r = await reader.delete("/api/v1/suppressions/a@example.org", params={"reason": "x"})
        assert r.status_code == 403
    assert await api.store.get_suppression("a@example.org") is None


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "field"),
    [
        ("post", "/api/v1/suppressions", {"json": {"email": "not an address", "reason": "x"}}, "email"),
        ("post", "/api/v1/suppressions", {"json": {"email": "a@example.org"}}, "reason"),
        ("post", "/api/v1/suppressions", {"json": {"email": "a@example.org", "reason": 5}}, "reason"),
        ("post", "/api/v1/suppressions", {"content": b"{nope"}, "body"),
        ("delete", "/api/v1/suppressions/a@example.org", {}, "reason"),
        ("get", "/api/v1/suppressions", {"params": {"limit": "lots"}}, "limit"),
        ("get", "/api/v1/suppressions", {"params": {"limit": "0"}}, "limit"),
        ("get", "/api/v1/suppressions", {"params": {"cursor": "@@@"}}, "cursor"),
        ("get", "/api/v1/events", {"params": {"after": "-1"}}, "after"),
        ("get", "/api/v1/report", {"params": {"from": "yesterday"}}, "from"),
        ("get", "/api/v1/report", {"params": {}}, "from"),
        ("get", "/api/v1/report", {"params": {"from": "2026-03-02", "to": "2026-03-01"}}, "to"),
        ("get", "/api/v1/report", {"params": {"from": "2026-03-01", "group_by": "x"}}, "group_by"),
        ("get", "/api/v1/report", {"params": {"from": "2026-03-01", "format": "pdf"}}, "format"),
        ("get", "/api/v1/suppressions/export", {"params": {"format": "xml"}}, "format"),
        ("get", "/api/v1/non-deliveries", {"params": {"to": "soon"}}, "to"),
        ("get", "/api/v1/queue", {"params": {"all": "maybe"}}, "all"),
    ],
)
async def test_422_names_the_field(
    api: RunningDaemon, method: str, path: str, kwargs: dict[str, object], field: str
) -> None:
    async with client(api) as c:
        r = await c.request(method.upper(), path, **kwargs)  # type: ignore[arg-type]
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field and field in r.json()["error"]


async def test_request_size_limit(api: RunningDaemon) -> None:
    big = b"x@example.org\n" * 20_000  # 280 kB > max_request_size 200 kB
    async with client(api) as c:
        r = await c.post("/api/v1/suppressions/import", params={"reason": "r"}, content=big)
        assert r.status_code == 413 and "max_request_size" in r.json()["error"]

        async def chunks():  # no Content-Length: the limit counts what arrives
            for _ in range(20):
                yield b"y@example.org\n" * 1000

        r = await c.post("/api/v1/suppressions/import", params={"reason": "r"}, content=chunks())
        assert r.status_code == 413
    assert await api.store.count_suppressions() == 0


async def test_health_readiness_and_openapi(api: RunningDaemon) -> None:
    async with client(api, None) as c:
        health = (await c.get("/healthz")).json()
        assert health == {"status": "ok", "version": bounced.__version__}
        ready = await c.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"]["listener_up"] is True
        doc = (await c.get("/openapi.json")).json()
    validate(doc)
    from bounced.http.api import api_routes
    from bounced.http.hooks import hook_routes
    from bounced.http.reports import report_routes

    assert {route.path for route in [*api_routes(), *report_routes(), *hook_routes()]} <= set(doc["paths"])


async def test_readyz_fails_with_a_backlog_over_the_bound(api: RunningDaemon) -> None:
    from dataclasses import replace

    api.daemon.config = replace(api.daemon.config, http=replace(api.daemon.config.http, ready_max_backlog=1))
    for i in range(2):  # spooled behind the processor's back: it sees them at its next poll
        await api.store.spool(
            b"Subject: x\r\n\r\nbody\r\n", "", ["b@bounces.sender.test"], f"p{i}", api.daemon.clock.now()
        )
    async with client(api, None) as c:
        r = await c.get("/readyz")
    assert (
        r.status_code == 503
        and r.json()["checks"]["backlog"] == 2
        and r.json()["checks"]["backlog_ok"] is False
    )


async def test_add_remove_and_audit(api: RunningDaemon) -> None:
    async with client(api) as c:
        r = await c.post(
            "/api/v1/suppressions", json={"email": "Zoe@Example.ORG", "reason": "asked", "note": "n"}
        )
        assert r.status_code == 201 and r.json()["address"] == "Zoe@example.org" and r.json()["added"] is True
        r = await c.post("/api/v1/suppressions", json={"email": "Zoe@example.org", "reason": "again"})
        assert r.status_code == 200 and r.json()["added"] is False
        assert (await c.get("/api/v1/suppressions/Zoe@example.org")).json()["entry"][
            "created_by"
        ] == "admin:api:ops"
        r = await c.request("DELETE", "/api/v1/suppressions/Zoe@example.org", json={"reason": "resubscribed"})
        assert r.status_code == 200 and r.json()["removed"] is True
        assert (await c.get("/api/v1/suppressions/Zoe@example.org")).status_code == 404
        r = await c.delete("/api/v1/suppressions/Zoe@example.org", params={"reason": "twice"})
        assert r.status_code == 404 and r.json()["removed"] is False
        audit = (await c.get("/api/v1/suppressions/audit", params={"email": "Zoe@example.org"})).json()
    assert [(a["action"], a["actor"], a["reason"]) for a in audit] == [
        ("suppression.add", "api:ops", "asked"),
        ("suppression.remove", "api:ops", "resubscribed"),
    ]


async def test_cursor_pages_cover_the_list_once(api: RunningDaemon) -> None:
    now = api.daemon.clock.now()
    for i in range(25):
        await api.store.add_suppression(f"u{i:02d}@example.org", "r", "t", now)  # same time: address order
    seen: list[str] = []
    cursor = None
    removed = 0
    async with client(api, READ) as c:
        while True:
            params = {"limit": "10", **({"cursor": cursor} if cursor else {})}
            page = (await c.get("/api/v1/suppressions", params=params)).json()
            assert page["total"] == 25 - removed
            seen += [e["address"] for e in page["entries"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
            await api.store.remove_suppression(seen[removed], "r", "t", now)  # a change between pages
            removed += 1
    assert seen == [f"u{i:02d}@example.org" for i in range(25)]


async def test_import_then_export_streams_everything(api: RunningDaemon) -> None:
    lines = "address\n" + "".join(f"p{i}@example.org\n" for i in range(3000)) + "bad line\n"
    async with client(api) as c:
        r = await c.post("/api/v1/suppressions/import", params={"reason": "migration"}, content=lines)
        assert r.json() == {
            "added": 3000,
            "already_present": 0,
            "invalid": 1,
            "problems": [r.json()["problems"][0]],
        }
        assert "line 3002" in r.json()["problems"][0]
        again = await c.post("/api/v1/suppressions/import", params={"reason": "migration"}, content=lines)
        assert again.json()["added"] == 0 and again.json()["already_present"] == 3000
        async with c.stream("GET", "/api/v1/suppressions/export", params={"format": "jsonl"}) as resp:
            assert resp.headers["content-type"].startswith("application/x-ndjson")
            rows = [json.loads(line) async for line in resp.aiter_lines() if line]
    assert sorted(r["address"] for r in rows) == sorted(f"p{i}@example.org" for i in range(3000))
    assert {r["reason"] for r in rows} == {"migration"} and {r["created_by"] for r in rows} == {
        "admin:api:ops"
    }


async def test_unknown_route_is_404_not_500(api: RunningDaemon) -> None:
    async with client(api) as c:
        assert (await c.get("/api/v1/nothing")).status_code == 404
