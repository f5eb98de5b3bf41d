"""The hooks another part (the webhook outbox) uses: its collector on /metrics and its routes
under the API's guard, given to the daemon before it starts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bounced.daemon import Daemon
from bounced.sdnotify import Notifier
from tests.harness import RunningDaemon
from tests.http.conftest import READ, client, http_config


class DeadLetters(Collector):
    def __init__(self) -> None:
        self.count = 0

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily("bounced_test_extension_things", "events given up", value=self.count)


async def hooks(request: Request) -> Response:
    return JSONResponse({"hooks": []})


async def test_extra_collector_and_routes(tmp_path: Path) -> None:
    daemon = Daemon(http_config(tmp_path), notifier=Notifier(""))
    stats = DeadLetters()
    daemon.http_collectors.append(stats)
    daemon.http_routes.append(Route("/api/v1/extension-test", hooks, methods=["GET"]))
    await daemon.start()
    try:
        d = RunningDaemon(daemon)
        async with client(d, None) as anon:
            assert (await anon.get("/api/v1/extension-test")).status_code == 401  # behind the guard
            assert "bounced_test_extension_things_total 0.0" in (await anon.get("/metrics")).text
        stats.count = 3
        async with client(d, READ) as c:
            assert (await c.get("/api/v1/extension-test")).json() == {"hooks": []}
            assert "bounced_test_extension_things_total 3.0" in (await c.get("/metrics")).text
    finally:
        await daemon.stop()
