"""The example alert rules parse (promtool, from Debian's prometheus package) and name only
metrics that /metrics serves."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.harness import RunningDaemon
from tests.http.conftest import client

RULES = Path(__file__).resolve().parents[2] / "prometheus" / "bounced-alerts.yml"
FROM_OTHER_PARTS = {"up"}  # Prometheus itself
# Served by a node on PostgreSQL only (scraped from one in tests/node/test_node_outage.py).
NODE_ONLY = {"bounced_central_store_up", "bounced_local_spool_backlog"}


def test_promtool_checks_the_rules() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (apt-get install prometheus)")
    result = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 8 rules found" in result.stdout


async def test_rules_name_served_metrics(api: RunningDaemon) -> None:
    async with client(api, None) as c:
        served = set(re.findall(r"^# TYPE (\S+) (\S+)", (await c.get("/metrics")).text, re.M))
    names = {n for n, _ in served} | {f"{n}_total" for n, kind in served if kind == "counter"}
    used = set(re.findall(r"\b(bounced_[a-z_]+|up)\b", RULES.read_text()))
    assert used - FROM_OTHER_PARTS - NODE_ONLY <= names, used - FROM_OTHER_PARTS - NODE_ONLY - names
