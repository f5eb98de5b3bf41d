"""Every event type reaches a real receiver: the sending side (delivered, hard bounce at RCPT,
non-delivery), admin changes made with the CLI in another process, and `bounced hooks`."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bounced.config import WebhookConfig, WebhookDeliveryConfig
from tests.harness import make_config, running_daemon, send_mail
from tests.submission.nexthop import NextHop
from tests.submission.test_sending_flow import outbound, sending_config
from tests.webhooks.receiver import Receiver

SECRET = "whsec-0123456789abcdef"
HOOK: dict[str, Any] = {"url": "", "secret": SECRET, "timeout": 5.0, "name": "platform"}
FAST = {"poll_interval": 0.1, "retry_initial": 0.2, "retry_max_delay": 0.5}


@pytest.fixture
async def hop() -> AsyncIterator[NextHop]:
    server = await NextHop().start()
    yield server
    await server.stop()


def by_recipient(receiver: Receiver) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for event in receiver.events():
        out.setdefault(event["recipient"], []).append(event["type"])
    return out


async def test_the_sending_side_fires_delivered_hard_bounce_and_non_delivery(
    tmp_path: Path, hop: NextHop, receiver: Receiver
) -> None:
    gone, full, fine = "gone@dest.example", "full@dest.example", "fine@dest.example"
    hop.script(gone, "rcpt", "550 5.1.1 <gone@dest.example>: Recipient address rejected: User unknown")
    hop.script(full, "rcpt", *["452 4.2.2 <full@dest.example>: Mailbox full"] * 10)
    config = replace(
        sending_config(tmp_path, hop, resend={"default": {"delays": [0.05], "attempts": 1}}),
        webhooks=[WebhookConfig(**{**HOOK, "url": receiver.url})],
        webhook_delivery=WebhookDeliveryConfig(**FAST),
    )
    async with running_daemon(config) as d:
        for rcpt in (gone, full, fine):
            await send_mail(d.submission_port, "p@x", [rcpt], outbound(rcpt, mailing="m-9"))
        side = d.daemon.sending_side
        async with asyncio.timeout(20):
            while not await d.store.list_non_deliveries():
                await side.run_until_idle()
                await asyncio.sleep(0.05)
        await receiver.wait_for(6)
    events = by_recipient(receiver)
    assert events[fine] == ["delivered"]
    assert events[gone] == ["hard_bounce", "suppression_added"]
    assert events[full] == ["soft_bounce", "soft_bounce", "non_delivery"]
    for event in receiver.events():
        assert event["mailing_id"] == "m-9" and event["delivery_id"] is not None, event
    nd = next(e for e in receiver.events() if e["type"] == "non_delivery")
    assert "Mailbox full" in nd["diagnostic"]


async def cli(toml: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`bounced ARGS --config TOML` in another process (as an admin on the host would)."""
    command = [sys.executable, "-m", "bounced", *args, "--config", str(toml)]
    return await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=60)


def toml_for(tmp_path: Path, receiver: Receiver, db: str) -> Path:
    path = tmp_path / "bounced.toml"
    path.write_text(
        f'[storage]\npath = "{db}"\n'
        f'[[webhooks]]\nurl = "{receiver.url}"\nsecret = "{SECRET}"\nname = "platform"\n'
    )
    return path


async def test_admin_changes_in_another_process_and_the_hooks_commands(
    tmp_path: Path, receiver: Receiver
) -> None:
    config = make_config(tmp_path, webhooks=[{**HOOK, "url": receiver.url}], webhook_delivery=FAST)
    toml = toml_for(tmp_path, receiver, config.storage.path)
    async with running_daemon(config):
        for args in (("add", "--note", "asked"), ("remove",)):
            action, *extra = args
            result = await cli(toml, "suppression", action, "a@example.org", "--reason", "user asked", *extra)
            assert result.returncode == 0, result.stderr
        got = await receiver.wait_for(2)
        assert [r.event["type"] for r in got] == ["suppression_added", "suppression_removed"]
        assert all(r.event["kind"] == "admin" and r.event["diagnostic"] == "user asked" for r in got)

        listed = await cli(toml, "hooks", "list", "--json")
        rows: list[dict[str, Any]] = json.loads(listed.stdout)
        assert [(r["hook"], r["state"], r["attempts"], r["event"]["type"]) for r in rows] == [
            ("platform", "delivered", 1, "suppression_added"),
            ("platform", "delivered", 1, "suppression_removed"),
        ]
        first = rows[0]["event"]["id"]
        shown = json.loads((await cli(toml, "hooks", "show", str(first))).stdout)
        assert shown["event"] == rows[0]["event"] and shown["deliveries"][0]["state"] == "delivered"
        missing = await cli(toml, "hooks", "show", "999")
        assert missing.returncode == 1 and "no webhook event 999" in missing.stderr

        replayed = await cli(toml, "hooks", "replay", "--from", "2020-01-01")
        assert replayed.returncode == 0 and "platform: 2 events queued again" in replayed.stdout
        again = await receiver.wait_for(4)
        assert [r.event["id"] for r in again[2:]] == [r.event["id"] for r in got]  # same ids: dedup
        assert again[2].body == got[0].body
        unknown = await cli(toml, "hooks", "replay", "--from", "2020-01-01", "--hook", "nope")
        assert unknown.returncode == 2 and "no hook or broker named 'nope'" in unknown.stderr
