"""Bounces that come back by mail to our VERP return path: resend with the same content,
delay notices, duplicates, forged tokens, and a restart with resends pending."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bounced.clock import FakeClock
from bounced.model import DeliveryState
from bounced.verp import make_return_path
from tests.harness import running_daemon, send_mail
from tests.submission.nexthop import NextHop
from tests.submission.test_sending_flow import VERP_DOMAIN, outbound, sending_config

# The queue runs on the daemon's clock: a test moves it past a resend delay (and far past the
# next one, to show that nothing more is sent) instead of sleeping.
PAST_THE_DELAY = 10.0  # seconds: more than any delay below (with jitter), less than max_age


def dsn(
    return_path: str,
    recipient: str,
    status: str,
    diagnostic: str,
    action: str = "failed",
    msgid: str = "<x@y>",
) -> bytes:
    return (
        f"From: MAILER-DAEMON@mx.dest.example\r\nTo: {return_path}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="BB"\r\n\r\n'
        "--BB\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n\r\n"
        "--BB\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.dest.example\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; {diagnostic}\r\n\r\n"
        "--BB\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: news@shop.example\r\nTo: {recipient}\r\nMessage-ID: {msgid}\r\nX-Mailing-ID: m-42\r\n\r\n"
        "--BB--\r\n"
    ).encode()


@pytest.fixture
async def hop() -> AsyncIterator[NextHop]:
    server = await NextHop().start()
    yield server
    await server.stop()


async def test_soft_dsn_by_mail_causes_one_resend_with_same_content(tmp_path: Path, hop: NextHop) -> None:
    rcpt = "later@dest.example"
    clock = FakeClock(datetime.now(UTC))
    async with running_daemon(sending_config(tmp_path, hop), clock) as d:
        side = d.daemon.sending_side
        await send_mail(d.submission_port, "p@shop.example", [rcpt], outbound(rcpt))
        await hop.wait_for(lambda: len(hop.delivered_to(rcpt)) == 1)
        await side.run_until_idle()
        first = hop.delivered_to(rcpt)[0]
        bounce = dsn(
            first.mail_from, rcpt, "4.2.2", "452 4.2.2 Mailbox full", msgid="<Hello.later@shop.example>"
        )
        # Two copies of the bounce about the same attempt (and a delay notice) schedule one resend.
        await send_mail(d.smtp_port, "", [first.mail_from], bounce)
        await send_mail(d.smtp_port, "", [first.mail_from], bounce.replace(b"could not", b"could NOT"))
        delay = dsn(first.mail_from, rcpt, "4.4.7", "still trying", action="delayed")
        await send_mail(d.smtp_port, "", [first.mail_from], delay)
        await d.drained()
        await side.run_until_idle()  # schedules the resend
        clock.advance(PAST_THE_DELAY)
        await side.run_until_idle()
        await hop.wait_for(lambda: len(hop.delivered_to(rcpt)) == 2)
        clock.advance(PAST_THE_DELAY)  # a second resend would be due now
        await side.run_until_idle()
        copies = hop.delivered_to(rcpt)
        assert len(copies) == 2
        assert copies[1].data == first.data and copies[1].mail_from == first.mail_from
        events = await d.store.events_for(rcpt)
        assert {e.source for e in events} == {"mail"}
        assert all(e.signed and e.delivery_id == 1 for e in events)
        delivery = await d.store.get_delivery(1)
        assert delivery is not None and delivery.state is DeliveryState.DELIVERED and delivery.attempts == 2
        assert await d.store.get_suppression(rcpt) is None


async def test_forged_token_suppresses_nothing(tmp_path: Path, hop: NextHop) -> None:
    rcpt = "victim@dest.example"
    async with running_daemon(sending_config(tmp_path, hop)) as d:
        await send_mail(d.submission_port, "p@shop.example", [rcpt], outbound(rcpt))
        await hop.wait_for(lambda: len(hop.delivered_to(rcpt)) == 1)
        genuine = hop.delivered_to(rcpt)[0].mail_from
        forged_paths = [
            make_return_path(1, rcpt, d.config.verp.__class__(domain=VERP_DOMAIN, secret="guessed")),
            genuine.replace("b+b-", "b+c-"),  # another delivery id under this MAC
        ]
        for path in forged_paths:
            await send_mail(d.smtp_port, "", [path], dsn(path, rcpt, "5.1.1", "550 5.1.1 User unknown"))
        await d.drained()
        assert await d.store.get_suppression(rcpt) is None
        events = await d.store.events_for(rcpt)
        assert len(events) >= 1 and not any(e.signed or e.suppress for e in events)
        # the genuine token does suppress
        await send_mail(
            d.smtp_port, "", [genuine], dsn(genuine, rcpt, "5.1.1", "550 5.1.1 User unknown", msgid="<g>")
        )
        await d.drained()
        entry = await d.store.get_suppression(rcpt)
        assert entry is not None and entry.reason == "userunknown"


async def test_restart_with_pending_resends_sends_each_once(tmp_path: Path, hop: NextHop) -> None:
    rcpts = [f"r{i}@dest.example" for i in range(3)]
    for rcpt in rcpts:
        hop.script(rcpt, "rcpt", f"451 4.3.0 <{rcpt}>: Temporary lookup failure")
    config = sending_config(tmp_path, hop, resend={"default": {"delays": [0.6], "attempts": 3}})
    clock = FakeClock(datetime.now(UTC))
    async with running_daemon(config, clock) as d:
        for rcpt in rcpts:
            await send_mail(d.submission_port, "p@shop.example", [rcpt], outbound(rcpt))
        await d.daemon.sending_side.run_until_idle()
        pending = await d.store.list_resends()
        assert sorted((j.recipient, j.attempt) for j in pending) == [(r, 2) for r in rcpts]
    assert hop.received == []
    clock.advance(PAST_THE_DELAY)  # the resends fall due while the daemon is down
    async with running_daemon(config, clock) as d:
        await hop.wait_for(lambda: len(hop.received) == 3, timeout=5)
        await d.daemon.sending_side.run_until_idle()
        clock.advance(PAST_THE_DELAY)  # nothing else is due, now or later
        await d.daemon.sending_side.run_until_idle()
        assert sorted(r.recipient for r in hop.received) == rcpts
        assert await d.store.list_resends() == []
        counts = await d.store.queue_counts()
        assert counts["done"] == 6 and counts["pending"] == counts["running"] == 0


async def test_soft_dsns_by_mail_until_rules_run_out(tmp_path: Path, hop: NextHop) -> None:
    rcpt = "full@dest.example"
    config = sending_config(tmp_path, hop, resend={"default": {"delays": [0.05], "attempts": 2}})
    clock = FakeClock(datetime.now(UTC))
    async with running_daemon(config, clock) as d:
        side = d.daemon.sending_side
        await send_mail(d.submission_port, "p@shop.example", [rcpt], outbound(rcpt))
        for attempt in range(1, 4):
            await hop.wait_for(lambda n=attempt: len(hop.delivered_to(rcpt)) == n)
            await side.run_until_idle()
            rp = hop.delivered_to(rcpt)[-1].mail_from
            text = f"452 4.2.2 Mailbox full (bounce {attempt})"
            await send_mail(
                d.smtp_port, "", [rp], dsn(rp, rcpt, "4.2.2", text, msgid="<Hello.full@shop.example>")
            )
            await d.drained()
            await side.run_until_idle()  # schedules the resend (or gives up)
            clock.advance(PAST_THE_DELAY)
            await side.run_until_idle()
        [nd] = await d.store.list_non_deliveries()
        assert (nd.attempts, nd.last_bounce_text) == (3, "452 4.2.2 Mailbox full (bounce 3)")
        clock.advance(PAST_THE_DELAY)
        await side.run_until_idle()
        assert len(hop.delivered_to(rcpt)) == 3
        assert len(await d.store.list_non_deliveries()) == 1


async def test_signed_hard_dsn_by_mail_closes_the_delivery_and_its_pending_resend(
    tmp_path: Path, hop: NextHop
) -> None:
    config = sending_config(tmp_path, hop, resend={"default": {"delays": [60.0], "attempts": 3}})
    delivered, waiting = "gone@dest.example", "full-then-gone@dest.example"
    async with running_daemon(config) as d:
        side = d.daemon.sending_side
        for rcpt in (delivered, waiting):
            await send_mail(d.submission_port, "p@shop.example", [rcpt], outbound(rcpt))
        await hop.wait_for(lambda: len(hop.received) == 2)
        await side.run_until_idle()
        path = {r.recipient: r.mail_from for r in hop.received}
        # The second one first soft-bounces by mail: a resend is scheduled a minute later.
        soft = dsn(path[waiting], waiting, "4.2.2", "452 4.2.2 Mailbox full", msgid="<s@shop.example>")
        await send_mail(d.smtp_port, "", [path[waiting]], soft)
        await d.drained()
        await side.run_until_idle()
        assert [j.recipient for j in await d.store.list_resends()] == [waiting]
        for rcpt in (delivered, waiting):
            hard = dsn(path[rcpt], rcpt, "5.1.1", "550 5.1.1 User unknown", msgid=f"<h.{rcpt}>")
            await send_mail(d.smtp_port, "", [path[rcpt]], hard)
        await d.drained()
        for rcpt in (delivered, waiting):
            delivery = next(
                x for x in [await d.store.get_delivery(i) for i in (1, 2)] if x and x.recipient == rcpt
            )
            assert delivery.state is DeliveryState.HARD_BOUNCED
            assert delivery.last_bounce_text is not None and "User unknown" in delivery.last_bounce_text
            assert await d.store.get_suppression(rcpt) is not None
        assert await d.store.list_resends() == []  # cancelled: nothing more goes to a dead address
        assert len(hop.received) == 2


async def test_unsigned_hard_dsn_leaves_the_delivery_alone(tmp_path: Path, hop: NextHop) -> None:
    rcpt = "someone@dest.example"
    async with running_daemon(sending_config(tmp_path, hop)) as d:
        await send_mail(d.submission_port, "p@shop.example", [rcpt], outbound(rcpt))
        await hop.wait_for(lambda: len(hop.delivered_to(rcpt)) == 1)
        await d.daemon.sending_side.run_until_idle()
        unsigned = f"bounces@{VERP_DOMAIN}"
        await send_mail(d.smtp_port, "", [unsigned], dsn(unsigned, rcpt, "5.1.1", "550 5.1.1 User unknown"))
        await d.drained()
        delivery = await d.store.get_delivery(1)
        assert delivery is not None and delivery.state is DeliveryState.DELIVERED
