"""The CLI and the API answer the same question the same way: both call bounced.service."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.harness import RunningDaemon
from tests.http.conftest import client
from tests.http.seed import seed_bounces


async def cli(config: Path, *args: str) -> tuple[int, bytes]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bounced", *args, "--config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode in (0, 1), err.decode()
    return int(proc.returncode or 0), out


async def cli_json(config: Path, *args: str) -> Any:
    return json.loads((await cli(config, *args, "--json"))[1])


async def test_cli_and_api_agree(api: RunningDaemon, tmp_path: Path) -> None:
    config = tmp_path / "cli.toml"
    config.write_text(f'[storage]\npath = "{api.config.storage.path}"\n')
    await seed_bounces(api)
    async with client(api) as c:
        await c.post("/api/v1/suppressions", json={"email": "api@example.org", "reason": "by api"})
    assert (await cli(config, "suppression", "add", "cli@example.org", "--reason", "by cli"))[0] == 0
    today = api.daemon.clock.now().date()
    start, end = (today - timedelta(days=1)).isoformat(), (today + timedelta(days=1)).isoformat()

    async with client(api) as c:
        page = (await c.get("/api/v1/suppressions", params={"limit": "2"})).json()
        listed = await cli_json(config, "suppression", "list", "--limit", "2")
        assert listed["entries"] == page["entries"] and listed["total"] == page["total"] == 5
        assert listed["next_cursor"] == page["next_cursor"] and listed["next_offset"] == 2
        nxt = (
            await c.get("/api/v1/suppressions", params={"limit": "2", "cursor": page["next_cursor"]})
        ).json()
        assert (await cli_json(config, "suppression", "list", "--limit", "2", "--offset", "2"))[
            "entries"
        ] == nxt["entries"]

        for email in ("gone0@example.org", "api@example.org", "nobody@example.org"):
            assert (
                await cli_json(config, "suppression", "show", email)
                == (await c.get(f"/api/v1/suppressions/{email}")).json()
            )
        for email in ("gone1@example.org", "full00@dest0.example"):
            assert (
                await cli_json(config, "profile", "show", email)
                == (await c.get(f"/api/v1/profiles/{email}")).json()
            )
        assert (
            await cli_json(config, "suppression", "audit")
            == (await c.get("/api/v1/suppressions/audit")).json()
        )
        assert await cli_json(config, "queue", "list") == (await c.get("/api/v1/queue")).json()
        assert (
            await cli_json(config, "undeliveries", "list") == (await c.get("/api/v1/non-deliveries")).json()
        )

        for group_by in ("from-domain", "ip"):
            params = {"from": start, "to": end, "group_by": group_by}
            api_report = (await c.get("/api/v1/report", params={**params, "format": "json"})).json()
            _, out = await cli(
                config, "report", "--from", start, "--to", end, "--group-by", group_by, "--format", "json"
            )
            assert json.loads(out) == api_report
            assert api_report["total"] == 6
            _, csv_out = await cli(
                config, "report", "--from", start, "--to", end, "--group-by", group_by, "--format", "csv"
            )
            assert csv_out == (await c.get("/api/v1/report", params={**params, "format": "csv"})).content

        xlsx = tmp_path / "api.xlsx"
        xlsx.write_bytes(
            (await c.get("/api/v1/report", params={"from": start, "to": end, "format": "xlsx"})).content
        )
        await cli(
            config,
            "report",
            "--from",
            start,
            "--to",
            end,
            "--format",
            "xlsx",
            "--output",
            str(tmp_path / "cli.xlsx"),
        )
        assert _sheet(xlsx) == _sheet(tmp_path / "cli.xlsx") and _sheet(xlsx)[-1][-1] == 6

        _, exported = await cli(config, "suppression", "export", "--format", "csv")
        assert exported == (await c.get("/api/v1/suppressions/export", params={"format": "csv"})).content
        assert exported.count(b"\n") == 6  # header + 5


def _sheet(path: Path) -> list[tuple[object, ...]]:
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True)
    return [tuple(row) for row in book.worksheets[0].iter_rows(values_only=True)]


async def test_cut_listing_says_so(api: RunningDaemon, tmp_path: Path) -> None:
    config = tmp_path / "cli.toml"
    config.write_text(f'[storage]\npath = "{api.config.storage.path}"\n')
    now = api.daemon.clock.now()
    for i in range(3):
        await api.store.add_suppression(f"c{i}@example.org", "r", "t", now)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bounced", "suppression", "list", "--limit", "2", "--config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert len(out.splitlines()) == 2
    assert b"list cut at 2: more with --offset 2" in err and b"suppression export" in err
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bounced", "suppression", "list", "--config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert len(out.splitlines()) == 3 and b"cut" not in err
