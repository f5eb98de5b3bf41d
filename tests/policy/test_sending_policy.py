"""Bounce policy on the sending side, end to end over SMTP with a real next hop on loopback
and the example config: greylisting retried when the server says, our own outages not
counted against recipients, case variants of a suppressed address refused, soft-bounce
thresholds."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiosmtplib
import pytest

from bounced.model import BounceKind, DeliveryState
from tests.harness import running_daemon, send_mail
from tests.policy.helpers import example_config, outbound, run_cli
from tests.store_helpers import guard_trip_count, soft_bounce_groups
from tests.submission.nexthop import NextHop

MARGIN, POLL = 0.3, 0.2


@pytest.fixture
async def hop() -> AsyncIterator[NextHop]:
    server = await NextHop().start()
    yield server
    await server.stop()


async def test_greylisted_for_3_seconds_is_retried_then_and_delivered(tmp_path: Path, hop: NextHop) -> None:
    rcpt = "grey@dest.example"
    hop.script(
        rcpt, "rcpt", "450 4.7.1 <grey@dest.example>: Recipient address rejected: Greylisted for 3 seconds"
    )
    # The example config's [resend.default] waits 1800 s; only margin and poll are made small.
    config = example_config(tmp_path, hop, resend={"greylist_margin": MARGIN, "poll_interval": POLL})
    assert config.resend.default.first_delay == 1800.0 and config.resend.rules == []
    async with running_daemon(config) as d:
        assert d.submission_port
        # one PolicyAlerts for bounces by mail and the next hop's replies: one guard, one count
        assert (
            d.daemon.sending_side.queue.alerts is d.daemon.processor.policy_alerts is d.daemon.policy_alerts
        )
        await send_mail(d.submission_port, "platform@shop.example", [rcpt], outbound(rcpt))
        await hop.wait_for(lambda: hop.delivered_to(rcpt), timeout=3 + MARGIN + POLL + 10)
        await d.daemon.sending_side.run_until_idle()  # the 250 is recorded
        [event] = await d.store.events_for(rcpt)
        assert (event.kind, event.reason.value, event.retry_after) == (BounceKind.SOFT, "greylisted", 3)
        [_, second] = await d.store.jobs_for_delivery(event.delivery_id or 0)
        # the resend was due retry_after + margin after the refusal was decided on (built-in
        # rule; the decision follows the refusal at once, well within a poll interval)
        due_after = second.due_at - event.received_at
        assert timedelta(seconds=3 + MARGIN) <= due_after <= timedelta(seconds=3 + MARGIN + POLL)
        delivery = await d.store.get_delivery(event.delivery_id or 0)
        assert delivery is not None and delivery.state is DeliveryState.DELIVERED and delivery.attempts == 2
        attempts = [a for a in hop.attempts if a[0] == rcpt]
        assert [a[2][:3] for a in attempts] == ["450", "250", "250"]  # RCPT refused; RCPT, DATA ok
        assert attempts[1][3] - attempts[0][3] >= 3 + MARGIN - 0.05  # never before the server asked


async def test_next_hop_down_counts_nothing_against_the_recipient(tmp_path: Path, hop: NextHop) -> None:
    await hop.stop()  # the relay is down for the whole test
    rcpt = "patient@dest.example"
    config = example_config(
        tmp_path, hop, resend={"poll_interval": POLL, "default": {"delays": [0.1], "attempts": 2}}
    )
    async with running_daemon(config) as d:
        await send_mail(d.submission_port or 0, "platform@shop.example", [rcpt], outbound(rcpt))
        for _ in range(50):
            await d.daemon.sending_side.run_until_idle()
            if await d.store.list_non_deliveries():
                break
            await asyncio.sleep(0.1)
        [nd] = await d.store.list_non_deliveries()
        assert nd.recipient == rcpt and nd.attempts == 3
        assert nd.last_bounce_text.startswith("our relay unreachable: 127.0.0.1:")
        events = await d.store.events_for(rcpt)
        assert len(events) == 3 and {e.kind for e in events} == {BounceKind.OUR_SIDE}
        assert await d.store.get_profile(rcpt) is None  # no profile counts
        assert await d.store.get_suppression(rcpt) is None
        start = min(e.received_at for e in events) - timedelta(days=1)
        rows = [g async for g in soft_bounce_groups(d.store, start, start + timedelta(days=3))]
        assert rows == []  # no soft-bounce report row


async def test_case_variant_of_a_suppressed_address_is_refused_at_rcpt(tmp_path: Path, hop: NextHop) -> None:
    hop.script(
        "unknown1@dest.example",
        "rcpt",
        "550 5.1.1 <unknown1@dest.example>: Recipient address rejected: User unknown",
    )
    config = example_config(tmp_path, hop, resend={"poll_interval": POLL})
    async with running_daemon(config) as d:
        port = d.submission_port or 0
        await send_mail(
            port, "platform@shop.example", ["unknown1@dest.example"], outbound("unknown1@dest.example")
        )
        await d.daemon.sending_side.run_until_idle()
        assert await d.store.get_suppression("unknown1@dest.example") is not None
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
            await send_mail(
                port, "platform@shop.example", ["UNKNOWN1@DEST.EXAMPLE"], outbound("UNKNOWN1@DEST.EXAMPLE")
            )
        reply = refused.value.recipients[0]
        assert reply.code == 550 and "suppressed (userunknown, since " in reply.message
        assert len([a for a in hop.attempts if a[0].lower() == "unknown1@dest.example"]) == 1


async def test_case_sensitive_local_parts_when_configured(tmp_path: Path, hop: NextHop) -> None:
    hop.script("Unknown2@dest.example", "rcpt", "550 5.1.1 <Unknown2@dest.example>: User unknown")
    config = example_config(
        tmp_path, hop, resend={"poll_interval": POLL}, policy={"local_part_case": "sensitive"}
    )
    async with running_daemon(config) as d:
        port = d.submission_port or 0
        await send_mail(port, "p@shop.example", ["Unknown2@dest.example"], outbound("Unknown2@dest.example"))
        await d.daemon.sending_side.run_until_idle()
        assert await d.store.get_suppression("Unknown2@DEST.example") is not None  # domain always folds
        errors, _ = await send_mail(
            port, "p@shop.example", ["unknown2@dest.example"], outbound("unknown2@dest.example")
        )
        assert errors == {}
        await hop.wait_for(lambda: hop.delivered_to("unknown2@dest.example"))


async def test_soft_bounce_threshold_suppresses_and_a_delivery_resets(tmp_path: Path, hop: NextHop) -> None:
    full = "452 4.2.2 <{}>: Recipient address rejected: Mailbox full"
    hop.script("full@dest.example", "rcpt", *[full.format("full@dest.example")] * 10)
    # two soft bounces, delivered, two soft bounces: never three without a delivery between
    hop.script("reset@dest.example", "rcpt", *[full.format("reset@dest.example")] * 2)
    rule = {"name": "three full", "count": 3, "window": 3600.0, "reasons": ["mailboxfull"]}
    config = example_config(
        tmp_path, hop,
        resend={"poll_interval": POLL, "default": {"delays": [0.05], "attempts": 5}},
        policy={"soft_thresholds": [rule]},
    )  # fmt: skip
    async with running_daemon(config) as d:
        port = d.submission_port or 0
        for rcpt in ("full@dest.example", "reset@dest.example"):
            await send_mail(port, "p@shop.example", [rcpt], outbound(rcpt))
        await hop.wait_for(lambda: hop.delivered_to("reset@dest.example"))
        hop.script("reset@dest.example", "rcpt", *[full.format("reset@dest.example")] * 2)
        await send_mail(
            port, "p@shop.example", ["reset@dest.example"], outbound("reset@dest.example", "Again")
        )
        await hop.wait_for(lambda: len(hop.delivered_to("reset@dest.example")) == 2)
        for _ in range(50):
            await d.daemon.sending_side.run_until_idle()
            if await d.store.get_suppression("full@dest.example"):
                break
            await asyncio.sleep(0.1)
        entry = await d.store.get_suppression("full@dest.example")
        assert entry is not None and entry.reason == "softbounce-threshold" and entry.created_by == "policy"
        soft = [e for e in await d.store.events_for("full@dest.example") if e.kind is BounceKind.SOFT]
        assert len(soft) == 3 and entry.bounce_event_id == soft[-1].id
        await d.daemon.sending_side.run_until_idle()
        assert len([a for a in hop.attempts if a[0] == "full@dest.example"]) == 3  # then no more sends
        assert await d.store.get_suppression("reset@dest.example") is None
        assert (
            len([e for e in await d.store.events_for("reset@dest.example") if e.kind is BounceKind.SOFT]) == 4
        )


async def test_soft_thresholds_evaluated_retroactively_on_demand(tmp_path: Path, hop: NextHop) -> None:
    full = "452 4.2.2 <old@dest.example>: Mailbox full"
    hop.script("old@dest.example", "rcpt", *[full] * 3)
    config = example_config(
        tmp_path, hop, resend={"poll_interval": POLL, "default": {"delays": [0.05], "attempts": 2}}
    )
    async with running_daemon(config) as d:  # no threshold rules yet: the default is off
        await send_mail(
            d.submission_port or 0, "p@shop.example", ["old@dest.example"], outbound("old@dest.example")
        )
        for _ in range(50):
            await d.daemon.sending_side.run_until_idle()
            if await d.store.list_non_deliveries():
                break
            await asyncio.sleep(0.1)
        assert await d.store.get_suppression("old@dest.example") is None
    toml = tmp_path / "rules.toml"
    toml.write_text(
        f'[storage]\npath = "{config.storage.path}"\n'
        '[[policy.soft_thresholds]]\ncount = 3\nwindow = 86400\nreasons = ["mailboxfull"]\n',
        encoding="utf-8",
    )
    dry = run_cli(toml, "policy", "soft-thresholds", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would suppress\told@dest.example" in dry.stdout
    done = run_cli(toml, "policy", "soft-thresholds")
    assert done.returncode == 0 and "suppressed\told@dest.example" in done.stdout
    shown = run_cli(toml, "suppression", "show", "OLD@dest.example")
    assert shown.returncode == 0 and "softbounce-threshold" in shown.stdout


async def test_guard_on_the_next_hops_replies_one_alert_for_domain_and_ip(
    tmp_path: Path, hop: NextHop, caplog: pytest.LogCaptureFixture
) -> None:
    rcpts = [f"user{i}@dest.example" for i in range(12)]
    for rcpt in rcpts:
        hop.script(rcpt, "rcpt", f"550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown")
    config = example_config(
        tmp_path, hop,
        resend={"poll_interval": POLL, "concurrency": 1},
        pools={"default": ["127.0.0.2"]},
        policy={"guard": {"threshold": 5, "window": 600.0}},
    )  # fmt: skip
    caplog.set_level(logging.INFO, logger="bounced.policy")
    async with running_daemon(config) as d:
        await send_mail(d.submission_port or 0, "p@shop.example", rcpts, outbound("list@shop.example"))
        await d.daemon.sending_side.run_until_idle()
        events = [e for r in rcpts for e in await d.store.events_for(r)]
        assert len(events) == 12 and all(e.signed and e.sending_ip == "127.0.0.2" for e in events)
        assert await d.store.suppressed_among(rcpts) == set()  # the first 4 were moved back
        assert sorted(q.address for q in await d.store.list_quarantine()) == sorted(rcpts)
        assert await guard_trip_count(d.store) == 2  # domain and sending IP both tripped ...
        assert d.daemon.sending_side.queue.alerts.guard_trips == 1  # ... as one incident
    alerts = [r for r in caplog.records if r.getMessage() == "mass-failure guard tripped"]
    assert len(alerts) == 1
