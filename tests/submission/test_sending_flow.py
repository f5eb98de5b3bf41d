"""The sending side end to end: submission listener -> store -> relay (a real next hop) ->
bounces at SMTP time and by mail -> suppression, resend, non-delivery."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest

from bounced.model import DeliveryState
from bounced.verp import parse_verp_address
from tests.harness import make_config, running_daemon, send_mail
from tests.store_helpers import deliveries_for, refusal_counts
from tests.submission.nexthop import NextHop

SECRET = "test-secret-0123456789"  # verp.secret: at least 16 bytes
VERP_DOMAIN = "bounces.example.net"


def outbound(
    to: str, subject: str = "Hello", mailing: str = "m-42", sender: str = "news@shop.example"
) -> bytes:
    return (
        f"From: Shop <{sender}>\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject.replace(' ', '.')}.{to}@shop.example>\r\nX-Mailing-ID: {mailing}\r\n"
        "\r\nBody line one.\r\n.leading dot stays\r\n"
    ).encode()


def sending_config(tmp_path: Path, hop: NextHop, **overrides: dict[str, Any]) -> Any:
    sections: dict[str, dict[str, Any]] = {
        "smtp": {"domains": [VERP_DOMAIN]},
        "submission": {"enabled": True},
        "relay": {"host": hop.host, "port": hop.port, "timeout": 5.0},
        "verp": {"domain": VERP_DOMAIN, "secret": SECRET},
        "resend": {
            "poll_interval": 0.1,
            "greylist_margin": 0.2,
            "default": {"delays": [0.3], "attempts": 3, "max_age": 3600.0},
        },
    }
    for name, values in overrides.items():
        sections[name] = {**sections.get(name, {}), **values}
    return make_config(tmp_path, **sections)


@pytest.fixture
async def hop() -> AsyncIterator[NextHop]:
    server = await NextHop().start()
    yield server
    await server.stop()


async def test_greylisted_first_attempt_is_retried_after_the_delay(tmp_path: Path, hop: NextHop) -> None:
    rcpt = "grey@dest.example"
    hop.script(
        rcpt, "rcpt", "450 4.7.1 <grey@dest.example>: Sender address rejected: Greylisted for 2 seconds"
    )
    async with running_daemon(sending_config(tmp_path, hop)) as d:
        assert d.submission_port
        await send_mail(d.submission_port, "platform@shop.example", [rcpt], outbound(rcpt))
        await hop.wait_for(lambda: hop.delivered_to(rcpt), timeout=15)
        await d.daemon.sending_side.run_until_idle()
        first = next(a for a in hop.attempts if a[0] == rcpt)
        got = hop.delivered_to(rcpt)
        assert len(got) == 1
        assert got[0].at - first[3] >= 2.2 - 0.05  # retry_after 2 s + margin 0.2 s
        token = parse_verp_address(got[0].mail_from, d.config.verp, recipient=rcpt)
        assert token is not None and token.verified
        assert b"Body line one.\r\n.leading dot stays" in got[0].data
        delivery = await d.store.get_delivery(token.delivery_id)
        assert delivery is not None and delivery.state is DeliveryState.DELIVERED and delivery.attempts == 2
        events = await d.store.events_for(rcpt)
        assert [(e.source, e.reason.value, e.retry_after) for e in events] == [("smtp", "greylisted", 2)]
        assert events[0].signed and events[0].delivery_id == token.delivery_id


async def test_hard_bounce_at_rcpt_suppresses_and_later_submission_is_refused(
    tmp_path: Path, hop: NextHop
) -> None:
    rcpt = "gone@dest.example"
    hop.script(rcpt, "rcpt", "550 5.1.1 <gone@dest.example>: Recipient address rejected: User unknown")
    async with running_daemon(sending_config(tmp_path, hop)) as d:
        await send_mail(d.submission_port, "platform@shop.example", [rcpt], outbound(rcpt))
        await d.daemon.sending_side.run_until_idle()
        entry = await d.store.get_suppression(rcpt)
        assert entry is not None and entry.reason == "userunknown"
        profile = await d.store.get_profile(rcpt)
        assert profile is not None and profile.status.value == "hard_bounced"
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
            await send_mail(d.submission_port, "platform@shop.example", [rcpt], outbound(rcpt, "Again"))
        reply = refused.value.recipients[0]
        assert reply.code == 550
        assert f"<{rcpt}>: suppressed (userunknown, since " in reply.message
        assert await refusal_counts(d.store) == {rcpt: 1}
        # a mixed envelope: the good recipient still gets its copy
        ok = "fine@dest.example"
        errors, _ = await send_mail(d.submission_port, "platform@shop.example", [rcpt, ok], outbound(ok))
        assert rcpt in errors
        await hop.wait_for(lambda: hop.delivered_to(ok))
        assert len([a for a in hop.attempts if a[0] == rcpt]) == 1  # never sent again
        assert await refusal_counts(d.store) == {rcpt: 2}


async def test_sending_ip_binding_seen_by_next_hop(tmp_path: Path, hop: NextHop) -> None:
    config = sending_config(
        tmp_path,
        hop,
        pools={"default": ["127.0.0.3"], "by_from_domain": {"shop.example": ["127.0.0.2"]}},
    )
    async with running_daemon(config) as d:
        await send_mail(d.submission_port, "p@x", ["a@dest.example"], outbound("a@dest.example"))
        await send_mail(
            d.submission_port,
            "p@x",
            ["b@dest.example"],
            outbound("b@dest.example", sender="info@other.example"),
        )
        await hop.wait_for(lambda: len(hop.received) == 2)
        peers = {r.recipient: r.peer_ip for r in hop.received}
        assert peers == {"a@dest.example": "127.0.0.2", "b@dest.example": "127.0.0.3"}
        events_a = await deliveries_for(d.store, 1)
        assert [x.sending_ip for x in events_a] == ["127.0.0.2"]


async def test_exhausted_rules_give_exactly_one_non_delivery(tmp_path: Path, hop: NextHop) -> None:
    rcpt = "full@dest.example"
    full = "452 4.2.2 <full@dest.example>: Mailbox full"
    hop.script(rcpt, "rcpt", *[full] * 10)
    config = sending_config(tmp_path, hop, resend={"default": {"delays": [0.05], "attempts": 2}})
    async with running_daemon(config) as d:
        await send_mail(d.submission_port, "p@x", [rcpt], outbound(rcpt, mailing="m-7"))
        side = d.daemon.sending_side
        for _ in range(20):
            await side.run_until_idle()
            if await d.store.list_non_deliveries():
                break
            await side.queue.clock.sleep(0.05)
        undelivered = await d.store.list_non_deliveries()
        assert len(undelivered) == 1
        nd = undelivered[0]
        assert (nd.recipient, nd.attempts, nd.mailing_id) == (rcpt, 3, "m-7")
        assert nd.last_bounce_text == full
        await side.run_until_idle()
        await side.queue.clock.sleep(0.3)
        await side.run_until_idle()
        assert len([a for a in hop.attempts if a[0] == rcpt]) == 3  # first + 2 resends, nothing more
        assert len(await d.store.list_non_deliveries()) == 1
        delivery = await d.store.get_delivery(nd.delivery_id)
        assert delivery is not None and delivery.state is DeliveryState.UNDELIVERED
        assert await d.store.list_resends() == []


async def test_concurrent_submissions_each_delivered_once(tmp_path: Path, hop: NextHop) -> None:
    async with running_daemon(sending_config(tmp_path, hop)) as d:
        port = d.submission_port
        assert port

        async def submit(i: int) -> None:
            rcpts = [f"c{i}-{j}@dest{j}.example" for j in range(3)]
            await send_mail(
                port, "p@shop.example", rcpts, outbound(rcpts[0], subject=f"S{i}", mailing=f"m-{i}")
            )

        await asyncio.gather(*(submit(i) for i in range(30)))
        await hop.wait_for(lambda: len(hop.received) == 90)
        await d.daemon.sending_side.run_until_idle()
        assert len({r.recipient for r in hop.received}) == 90
        assert len({r.mail_from for r in hop.received}) == 90  # one VERP return path per delivery
        counts = await d.store.queue_counts()
        assert counts["done"] == 90 and counts["pending"] == counts["running"] == 0
