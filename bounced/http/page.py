"""The report page: server-rendered HTML (no build step), a small script for sorting and the
sign-in cookie. Its numbers are the API's JSON report, which is the CLI's."""

from __future__ import annotations

from datetime import timedelta
from html import escape
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from bounced.http.context import ApiContext
from bounced.http.reports import examples_for, query_from, report_json
from bounced.model import ReportGrouping
from bounced.report.softbounce import soft_bounce_layout
from bounced.service.errors import InvalidInput

__all__ = ["page_routes"]

# The report's columns the page shows (the example text and the description are in downloads).
_SHOWN = ("group", "recipient_domain", "bounce_text", "reason", "reason_code", "amount")

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em;margin:0 0 .6em}
form.filters{display:flex;gap:1em;align-items:end;flex-wrap:wrap;margin-bottom:1em}
form.filters label{display:flex;flex-direction:column;font-size:.85em;color:#555}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #ddd;padding:.35em .5em;text-align:left;vertical-align:top}
th{background:#f4f4f4;cursor:pointer;user-select:none;white-space:nowrap}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
td.num,th.num{text-align:right}tfoot td{font-weight:bold;background:#fafafa}
.downloads a{display:inline-block;margin-right:.6em;padding:.3em .8em;border:1px solid #888;border-radius:4px;
text-decoration:none;color:#222}.error{color:#a00}.muted{color:#777}
pre{white-space:pre-wrap;background:#f7f7f7;padding:.6em;max-height:30em;overflow:auto}
"""


def _page(title: str, body: str) -> HTMLResponse:
    html = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width"><style>{_STYLE}</style></head>'
        f'<body>{body}<script src="/static/report.js"></script></body></html>'
    )
    return HTMLResponse(html, headers={"cache-control": "no-store"})


def _sign_in(request: Request) -> HTMLResponse:
    refused = request.scope["state"].get("token_refused")
    note = '<p class="error" id="refused">That token is not valid here.</p>' if refused else ""
    return _page(
        "bounced: sign in",
        "<h1>bounced report</h1>"
        f'{note}<form id="signin"><label>API token (read scope) <input type="password" id="token" '
        'name="token" autocomplete="off" size="40"></label> <button type="submit">Sign in</button></form>',
    )


def _filters(params: dict[str, str]) -> str:
    group_by = params.get("group_by", "from-domain")
    options = "".join(
        f'<option value="{v}"{" selected" if v == group_by else ""}>{label}</option>'
        for v, label in (("from-domain", "From domain"), ("ip", "Sending IP"))
    )
    return (
        '<form class="filters" id="filters" method="get" action="/report">'
        f'<label>From <input type="date" name="from" value="{escape(params["from"])}" required></label>'
        f'<label>To (exclusive) <input type="date" name="to" value="{escape(params["to"])}"></label>'
        f'<label>Mailing <input type="text" name="mailing" value="{escape(params.get("mailing", ""))}" '
        'placeholder="all mailings"></label>'
        f'<label>Group by <select name="group_by">{options}</select></label>'
        '<button type="submit" id="apply">Apply</button></form>'
    )


async def report_page(request: Request) -> Response:
    if request.scope["state"].get("token") is None:
        return _sign_in(request)
    ctx: ApiContext = request.app.state.ctx
    today = ctx.clock.now().date()
    params = {
        "from": request.query_params.get("from") or (today - timedelta(days=30)).isoformat(),
        "to": request.query_params.get("to") or (today + timedelta(days=1)).isoformat(),
        "group_by": request.query_params.get("group_by") or "from-domain",
    }
    if request.query_params.get("mailing"):
        params["mailing"] = request.query_params["mailing"]
    try:
        query = query_from(request, params)
        data = await report_json(ctx, query)
    except InvalidInput as exc:
        return _page(
            "bounced: soft bounces",
            f'<h1>Soft bounces</h1>{_filters(params)}<p class="error" id="error">{escape(str(exc))}</p>',
        )
    return _page("bounced: soft bounces", _report_body(params, data))


def _report_body(params: dict[str, str], data: dict[str, Any]) -> str:
    query = urlencode(params)
    layout = soft_bounce_layout(ReportGrouping(params["group_by"]))  # the CSV's/XLSX's titles too
    titles = [(c.key, c.title) for c in layout.columns if c.key in _SHOWN]
    head = "".join(
        f'<th data-key="{k}"{" class=num" if k == "amount" else ""}>{escape(t)}</th>' for k, t in titles
    )
    rows = []
    for row in data["rows"]:
        drill = urlencode(
            {
                **params,
                "group": row["group"],
                "recipient_domain": row["recipient_domain"],
                "text": row["bounce_text"],
            }
        )
        cells = "".join(
            f'<td class="num">{row[k]}</td>' if k == "amount" else f"<td>{escape(str(row[k]))}</td>"
            for k, _ in titles
        )
        link = f'<a class="examples" href="/report/examples?{escape(drill)}">examples</a>'
        rows.append(f"<tr>{cells}<td>{link}</td></tr>")
    empty = '<tr><td colspan="7" class="muted">no soft bounces in this period</td></tr>' if not rows else ""
    return (
        f"<h1>Soft bounces</h1>{_filters(params)}"
        '<p class="downloads">'
        f'<a id="csv" href="/api/v1/report?{escape(query)}&amp;format=csv" download>Download CSV</a>'
        f'<a id="xlsx" href="/api/v1/report?{escape(query)}&amp;format=xlsx" download>Download XLSX</a>'
        f'<a id="json" href="/api/v1/report?{escape(query)}&amp;format=json">JSON</a></p>'
        f'<table id="report"><thead><tr>{head}<th></th></tr></thead><tbody>{"".join(rows)}{empty}</tbody>'
        f'<tfoot><tr><td colspan="5">Total ({data["row_count"]} rows)</td>'
        f'<td class="num" id="total">{data["total"]}</td><td></td></tr></tfoot></table>'
        f'<p class="muted">Period [{escape(data["meta"]["from"])}, {escape(data["meta"]["to"])}), '
        f"mailing: {escape(data['meta']['mailing'] or 'all')}. Click a column to sort.</p>"
    )


async def examples_page(request: Request) -> Response:
    if request.scope["state"].get("token") is None:
        return _sign_in(request)
    q = request.query_params
    try:
        found = await examples_for(request)
    except InvalidInput as exc:
        return _page("bounced: examples", f'<p class="error">{escape(str(exc))}</p>')
    back = urlencode({k: v for k, v in q.items() if k in ("from", "to", "mailing", "group_by")})
    items = []
    for e in found:
        raw = (
            f"<details><summary>raw message</summary><pre>{escape(e['raw'])}</pre></details>"
            if e["raw"]
            else '<p class="muted">raw message not kept (storage.keep_raw_days)</p>'
        )
        items.append(
            f'<li class="example"><p><b>{escape(e["recipient"])}</b> {escape(e["received_at"] or "")} '
            f"{escape(e['status'] or '')} {escape(e['reason'])}</p>"
            f'<pre class="diagnostic">{escape(e["diagnostic"])}</pre>{raw}</li>'
        )
    title = f"{q.get('group', '')} / {q.get('recipient_domain', '')}"
    return _page(
        "bounced: examples",
        f'<p><a href="/report?{escape(back)}">&larr; back to the report</a></p>'
        f"<h1>Examples: {escape(title)}</h1><p>{escape(q.get('text', ''))}</p>"
        f'<ol id="examples">{"".join(items)}</ol>',
    )


def page_routes() -> list[Route]:
    return [
        Route("/report", report_page, methods=["GET"]),
        Route("/report/examples", examples_page, methods=["GET"]),
    ]
