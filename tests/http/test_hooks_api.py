"""The webhook resources and `verp sign` in the API answer as the CLI does (same functions):
a real daemon, a signed bounce over SMTP, a real webhook receiver, the CLI as a subprocess."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bounced.verp import sign_return_path
from tests.conftest import free_port
from tests.harness import RunningDaemon, make_config, running_daemon, send_mail
from tests.http.conftest import ADMIN, READ, client
from tests.http.test_cli_api_same import cli, cli_json
from tests.policy.helpers import run_cli
from tests.webhooks.receiver import Receiver

FIXTURES = Path(__file__).parents[1] / "daemon" / "fixtures"
HARD = (FIXTURES / "hard_userunknown.eml").read_bytes()
DOMAIN = "bounces.example.com"
KEY = "k1-secret-0123456789abcdef"
SECRET = "whsec-0123456789abcdef"


def _config(tmp_path: Path, receiver: Receiver, keys: dict[str, str] | None) -> object:
    return make_config(
        tmp_path,
        smtp={"domains": [DOMAIN]},
        verp={"domain": DOMAIN, "keys": keys or {}},
        webhooks=[{"name": "platform", "url": receiver.url, "secret": SECRET, "timeout": 5.0}],
        webhook_delivery={"poll_interval": 0.1, "retry_initial": 0.2, "retry_max_delay": 0.5},
        http={
            "enabled": True,
            "listen": f"127.0.0.1:{free_port()}",
            "tokens": [
                {"name": "dashboard", "token": READ, "scope": "read"},
                {"name": "ops", "token": ADMIN, "scope": "admin"},
            ],
        },
    )


def _cli_toml(tmp_path: Path, d: RunningDaemon, receiver: Receiver, keys: bool = True) -> Path:
    path = tmp_path / "cli.toml"
    verp = f'[verp]\ndomain = "{DOMAIN}"\n' + (f'[verp.keys]\nk1 = "{KEY}"\n' if keys else "")
    path.write_text(
        f'[storage]\npath = "{d.config.storage.path}"\n{verp}'
        f'[[webhooks]]\nname = "platform"\nurl = "{receiver.url}"\nsecret = "{SECRET}"\n',
        encoding="utf-8",
    )
    return path


@pytest.fixture
async def daemon(tmp_path: Path, receiver: Receiver) -> AsyncIterator[RunningDaemon]:
    async with running_daemon(_config(tmp_path, receiver, {"k1": KEY})) as d:  # type: ignore[arg-type]
        yield d


async def test_hooks_list_show_replay_agree_with_the_cli(
    daemon: RunningDaemon, receiver: Receiver, tmp_path: Path
) -> None:
    sent = datetime.now(UTC).date()
    rp = sign_return_path(
        "jane.doe@example.org", key_id="k1", key=KEY, domain=DOMAIN, sent=sent, mailing_id="m1"
    )
    await send_mail(daemon.smtp_port, "", [rp], HARD)
    await daemon.drained()
    await receiver.wait_for(2)  # hard_bounce, suppression_added
    toml = _cli_toml(tmp_path, daemon, receiver)
    async with client(daemon, READ) as c:
        # The receiver has the POSTs a moment before the daemon records their outcome: compare
        # once both deliveries are recorded, so the CLI and the API read the same rows.
        for _ in range(200):
            listed = (await c.get("/api/v1/hooks")).json()
            if [e["state"] for e in listed] == ["delivered", "delivered"]:
                break
            await asyncio.sleep(0.05)
        assert [e["event"]["type"] for e in listed] == ["hard_bounce", "suppression_added"]
        assert [e["state"] for e in listed] == ["delivered", "delivered"]
        assert await cli_json(toml, "hooks", "list") == listed
        for params, args in (
            ({"state": "delivered", "hook": "platform"}, ["--state", "delivered", "--hook", "platform"]),
            ({"state": "dead"}, ["--state", "dead"]),
            ({"from": sent.isoformat(), "limit": "1"}, ["--from", sent.isoformat(), "--limit", "1"]),
        ):
            assert (
                await cli_json(toml, "hooks", "list", *args)
                == (await c.get("/api/v1/hooks", params=params)).json()
            )
        event_id = listed[0]["event"]["id"]
        shown = await c.get(f"/api/v1/hooks/events/{event_id}")
        assert shown.status_code == 200 and shown.json()["event"]["recipient"] == "jane.doe@example.org"
        code, out = await cli(toml, "hooks", "show", str(event_id))
        assert code == 0 and json.loads(out) == shown.json()
        assert (await c.get("/api/v1/hooks/events/999")).status_code == 404
        bad = await c.get("/api/v1/hooks", params={"from": "yesterday"})
        assert bad.status_code == 422 and bad.json()["field"] == "from"
        assert (await c.get("/api/v1/hooks", params={"state": "gone"})).json()["field"] == "state"
        assert (await c.post("/api/v1/hooks/replay", json={"from": sent.isoformat()})).status_code == 403

    async with client(daemon, ADMIN) as c:
        replayed = await c.post("/api/v1/hooks/replay", json={"from": sent.isoformat()})
        assert replayed.status_code == 200 and replayed.json() == {"platform": 2}
        assert await cli_json(toml, "hooks", "replay", "--from", sent.isoformat()) == {"platform": 2}
        await receiver.wait_for(6)  # sent again, twice, by the running daemon
        unknown = await c.post("/api/v1/hooks/replay", json={"from": sent.isoformat(), "hook": "nope"})
        assert unknown.status_code == 422 and unknown.json()["field"] == "hook"
        missing = await c.post("/api/v1/hooks/replay", json={})
        assert missing.status_code == 422 and missing.json()["field"] == "from"
    ids = [e["id"] for e in receiver.events()]
    assert sorted(set(ids)) == sorted({listed[0]["event"]["id"], listed[1]["event"]["id"]})


async def test_verp_sign_agrees_with_the_cli(
    daemon: RunningDaemon, receiver: Receiver, tmp_path: Path
) -> None:
    toml = _cli_toml(tmp_path, daemon, receiver)
    async with client(daemon, ADMIN) as c:
        for mailing in ("spring-26", None):
            args = ["--recipient", "Jane@Example.org", "--date", "2026-03-01"]
            params = {"recipient": "Jane@Example.org", "date": "2026-03-01"}
            if mailing:
                args += ["--mailing", mailing]
                params["mailing"] = mailing
            code, out = await cli(toml, "verp", "sign", *args)
            by_query = (await c.post("/api/v1/verp/sign", params=params)).json()
            by_body = (await c.post("/api/v1/verp/sign", json=params)).json()
            assert code == 0 and out.decode().strip() == by_query["return_path"] == by_body["return_path"]
            assert by_query["return_path"].endswith(f"@{DOMAIN}") and by_query["mailing"] == mailing
        today = (await c.post("/api/v1/verp/sign", json={"recipient": "a@example.org"})).json()
        assert today["date"] == datetime.now(UTC).date().isoformat()
        too_long = await c.post("/api/v1/verp/sign", json={"recipient": "a@example.org", "mailing": "x" * 21})
        assert too_long.status_code == 422 and too_long.json()["field"] == "mailing"
        no_rcpt = await c.post("/api/v1/verp/sign", json={"mailing": "m"})
        assert no_rcpt.status_code == 422 and no_rcpt.json()["field"] == "recipient"
        bad_date = await c.post("/api/v1/verp/sign", json={"recipient": "a@example.org", "date": "03/01"})
        assert bad_date.status_code == 422 and bad_date.json()["field"] == "date"
    async with client(daemon, READ) as c:  # a signed return path can suppress: admin only
        assert (await c.post("/api/v1/verp/sign", json={"recipient": "a@example.org"})).status_code == 403


async def test_verp_sign_without_a_key_says_so(tmp_path: Path, receiver: Receiver) -> None:
    async with running_daemon(_config(tmp_path, receiver, None)) as d:  # type: ignore[arg-type]
        async with client(d, ADMIN) as c:
            r = await c.post("/api/v1/verp/sign", json={"recipient": "a@example.org"})
        assert r.status_code == 409 and "no signing key" in r.json()["error"]
        done = run_cli(_cli_toml(tmp_path, d, receiver, keys=False), "verp", "sign", "--recipient", "a@b.c")
        assert done.returncode == 2 and "no signing key" in done.stderr
