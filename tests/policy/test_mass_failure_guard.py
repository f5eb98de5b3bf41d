"""The mass-failure guard end to end: bounces over real SMTP to the return-path listener,
applied by the daemon; the quarantine handled with the real CLI."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest

from bounced.model import ProfileStatus
from tests.apply.bounce_messages import dsn
from tests.harness import running_daemon, send_mail
from tests.policy.helpers import VERP_DOMAIN, example_config, run_cli
from tests.store_helpers import guard_trip_count

# Twenty different reasons a mailbox is gone: twenty different normalised texts.
WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
]


async def _send_all(port: int, messages: list[bytes], sessions: int = 12) -> None:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for message in messages:
        queue.put_nowait(message)

    async def session() -> None:
        while not queue.empty():
            await send_mail(port, "", [f"b@{VERP_DOMAIN}"], queue.get_nowait())

    await asyncio.gather(*(session() for _ in range(sessions)))


def _unknown(i: int) -> bytes:
    rcpt = f"user{i}@big.example"
    return dsn(rcpt, "5.1.1", f"550 5.1.1 <{rcpt}>: user unknown", bounce_id=f"<b{i}@mx.sender.test>")


def _distinct(j: int) -> bytes:
    domain = ("big.example", "a.example", "b.example", "c.example")[j % 4]
    rcpt = f"gone{j}@{domain}"
    text = f"550 5.1.1 <{rcpt}>: mailbox {WORDS[j]} does not exist"
    return dsn(rcpt, "5.1.1", text, bounce_id=f"<d{j}@mx.sender.test>")


async def test_500_identical_hard_bounces_are_quarantined_with_one_alert(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # unsigned bounces may suppress here, so that the guard is all that stands in the way
    config = example_config(tmp_path, verp={"unsigned_bounces": "suppress"})
    assert (config.policy.guard.threshold, config.policy.guard.window) == (200, 600.0)
    messages = [_unknown(i) for i in range(500)]
    for j in range(20):  # the distinct ones arrive in the middle of the flood
        messages.insert(25 * j + 10, _distinct(j))
    caplog.set_level(logging.WARNING, logger="bounced.policy")
    async with running_daemon(config) as d:
        await _send_all(d.smtp_port, messages)
        await d.drained(timeout=60)
        flood = [f"user{i}@big.example" for i in range(500)]
        assert await d.store.suppressed_among(flood) == set()
        held = await d.store.list_quarantine()
        assert sorted(e.address for e in held) == sorted(flood)
        distinct = [
            f"gone{j}@{('big.example', 'a.example', 'b.example', 'c.example')[j % 4]}" for j in range(20)
        ]
        assert await d.store.suppressed_among(distinct) == set(distinct)
        assert await guard_trip_count(d.store) == 1
        assert d.daemon.processor.policy_alerts.guard_trips == 1
        profile = await d.store.get_profile("user0@big.example")
        assert (
            profile is not None and profile.status is ProfileStatus.ACTIVE and profile.hard_bounce_count == 1
        )
    alerts = [r for r in caplog.records if r.getMessage() == "mass-failure guard tripped"]
    assert len(alerts) == 1
    assert alerts[0].kv["key"] == "big.example" and alerts[0].kv["scope"] == "domain"  # type: ignore[attr-defined]


async def test_quarantine_list_release_confirm_with_the_cli(tmp_path: Path) -> None:
    config = example_config(
        tmp_path, verp={"unsigned_bounces": "suppress"}, policy={"guard": {"threshold": 5, "window": 600.0}}
    )
    async with running_daemon(config) as d:
        await _send_all(d.smtp_port, [_unknown(i) for i in range(8)], sessions=2)
        await d.drained()
        assert await d.store.count_suppressions() == 0
    toml = tmp_path / "cli.toml"
    toml.write_text(f'[storage]\npath = "{config.storage.path}"\n', encoding="utf-8")
    listed = run_cli(toml, "quarantine", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    entries = json.loads(listed.stdout)
    assert len(entries) == 8 and {e["reason"] for e in entries} == {"userunknown"}
    assert run_cli(toml, "quarantine", "release").returncode == 2  # says which entries
    ids = [str(e["id"]) for e in entries[:3]]
    released = run_cli(toml, "quarantine", "release", *ids)
    assert released.returncode == 0 and released.stdout.startswith("3 quarantine entries released")
    confirmed = run_cli(toml, "quarantine", "confirm", "--domain", "big.example")
    assert confirmed.returncode == 0 and confirmed.stdout.startswith("5 quarantine entries confirmed")
    suppressed = json.loads(run_cli(toml, "suppression", "list", "--json").stdout)["entries"]
    kept = {e["address"] for e in entries[3:]}
    assert {s["address"] for s in suppressed} == kept
    assert all(s["reason"] == "userunknown" and s["created_by"].startswith("admin:") for s in suppressed)
    audit = json.loads(run_cli(toml, "suppression", "audit", "--json").stdout)
    by_admin = [a["action"] for a in audit if a["actor"] not in ("bounce", "guard")]
    assert sorted(by_admin) == ["quarantine.release"] * 3 + ["suppression.add"] * 5
    # suppressed before the group tripped, then moved to the quarantine by the guard (audited)
    early = [a for a in audit if a["actor"] == "bounce"]
    assert len(early) == len(
        [a for a in audit if a["actor"] == "guard" and a["action"] == "suppression.remove"]
    )
    assert json.loads(run_cli(toml, "quarantine", "list", "--json").stdout) == []
