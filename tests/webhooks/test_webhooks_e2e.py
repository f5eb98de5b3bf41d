"""Over real SMTP on loopback: platform-signed bounces suppress and fire signed webhooks at a
real HTTP receiver; forged ones suppress nothing; a receiver that was down gets them later."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bounced.model import BounceKind
from bounced.verp import sign_return_path
from bounced.webhooks.payload import verify_signature
from tests.harness import make_config, running_daemon, send_mail
from tests.webhooks.receiver import Receiver

FIXTURES = Path(__file__).parents[1] / "daemon" / "fixtures"
HARD = (FIXTURES / "hard_userunknown.eml").read_bytes()
SECRET = "whsec-0123456789abcdef"
KEY = "k1-secret-0123456789abcdef"
DOMAIN = "bounces.example.com"


def config_for(tmp_path: Path, receiver: Receiver, **delivery: Any) -> Any:
    return make_config(
        tmp_path,
        smtp={"domains": [DOMAIN]},
        verp={"domain": DOMAIN, "keys": {"k1": KEY}},
        webhooks=[{"url": receiver.url, "secret": SECRET, "timeout": 5.0}],
        webhook_delivery={"poll_interval": 0.1, "retry_initial": 0.2, "retry_max_delay": 0.5, **delivery},
    )


def return_path(recipient: str, key: str = KEY, mailing: str | None = "spring-26") -> str:
    sent = datetime.now(UTC).date()
    return sign_return_path(recipient, key_id="k1", key=key, domain=DOMAIN, sent=sent, mailing_id=mailing)


async def test_a_platform_signed_bounce_suppresses_and_fires_signed_webhooks(
    tmp_path: Path, receiver: Receiver
) -> None:
    async with running_daemon(config_for(tmp_path, receiver)) as d:
        await send_mail(d.smtp_port, "", [return_path("jane.doe@example.org")], HARD)
        await d.drained()
        got = await receiver.wait_for(2)
        entry = await d.store.get_suppression("jane.doe@example.org")
        assert entry is not None and entry.created_by == "bounce"
        (event,) = await d.store.events_for("jane.doe@example.org")
        assert event.signed and event.mailing_id == "spring-26"
    assert [r.event["type"] for r in got] == ["hard_bounce", "suppression_added"]
    for r in got:
        assert verify_signature(SECRET, r.headers["bounced-signature"], r.body, int(time.time()))
        assert not verify_signature(
            "another-secret-0123", r.headers["bounced-signature"], r.body, int(time.time())
        )
        assert r.headers["idempotency-key"] == str(r.event["id"])
        body = r.event
        assert body["recipient"] == "jane.doe@example.org" and body["signed"] is True
        assert (body["kind"], body["reason"], body["status"], body["reply_code"]) == (
            "hard",
            "userunknown",
            "5.1.1",
            550,
        )
        assert body["mailing_id"] == "spring-26" and "User unknown" in body["diagnostic"]
    assert len({r.event["id"] for r in got}) == 2


async def test_a_forged_token_suppresses_nothing_and_fires_no_suppression(
    tmp_path: Path, receiver: Receiver
) -> None:
    forged = return_path("jane.doe@example.org", key="not-the-key-0123456789")
    async with running_daemon(config_for(tmp_path, receiver)) as d:
        await send_mail(d.smtp_port, "", [forged], HARD)
        await d.drained()
        (only,) = await receiver.wait_for(1)
        assert d.daemon.webhooks is not None
        await d.daemon.webhooks.drain()
        assert await d.store.get_suppression("jane.doe@example.org") is None
        (event,) = await d.store.events_for("jane.doe@example.org")
        assert event.kind is BounceKind.HARD and not event.signed
    assert [e["type"] for e in receiver.events()] == ["hard_bounce"]
    assert only.event["signed"] is False


async def test_a_token_for_another_recipient_does_not_verify(tmp_path: Path, receiver: Receiver) -> None:
    # A token copied from mail to someone else names a different address than the bounce.
    async with running_daemon(config_for(tmp_path, receiver)) as d:
        await send_mail(d.smtp_port, "", [return_path("attacker@example.net")], HARD)
        await d.drained()
        await receiver.wait_for(1)
        assert await d.store.get_suppression("jane.doe@example.org") is None


async def test_receiver_down_then_up_gets_every_event_in_order(tmp_path: Path, receiver: Receiver) -> None:
    receiver.stop()  # connection refused
    async with running_daemon(config_for(tmp_path, receiver)) as d:
        for i in range(5):
            raw = HARD.replace(b"jane.doe@example.org", f"user{i}@example.org".encode())
            await send_mail(d.smtp_port, "", [return_path(f"user{i}@example.org")], raw)
        await d.drained()
        assert d.daemon.webhooks is not None
        while d.daemon.webhooks.stats.failed_attempts < 3:  # it tried and failed
            await receiver_wait(0.05)
        receiver.status = 503  # up, but failing
        receiver.start()
        while d.daemon.webhooks.stats.failed_attempts < 8:
            await receiver_wait(0.05)
        assert receiver.received == []
        receiver.status = 200
        got = await receiver.wait_for(10)
        async with asyncio.timeout(30):  # the POSTs arrived; their outcome is recorded just after
            while d.daemon.webhooks.stats.delivered < 10:
                await receiver_wait(0.05)
        assert d.daemon.webhooks.stats.dead_lettered == 0
    per_recipient: dict[str, list[str]] = {}
    for r in got:
        per_recipient.setdefault(r.event["recipient"], []).append(r.event["type"])
    assert all(types == ["hard_bounce", "suppression_added"] for types in per_recipient.values())
    assert len(per_recipient) == 5


async def test_retries_run_out_into_dead_letters(tmp_path: Path, receiver: Receiver) -> None:
    receiver.status = 500
    async with running_daemon(config_for(tmp_path, receiver, retry_for=0.5)) as d:
        await send_mail(d.smtp_port, "", [return_path("jane.doe@example.org")], HARD)
        await d.drained()
        assert d.daemon.webhooks is not None
        while d.daemon.webhooks.stats.dead_lettered < 2:
            await receiver_wait(0.05)
        dead = await d.store.list_webhook_deliveries(state=None)
        assert {x.state.value for x in dead} == {"dead"} and all(x.attempts >= 1 for x in dead)
        assert all(x.last_error == "HTTP 500" for x in dead)


async def receiver_wait(seconds: float) -> None:
    await asyncio.sleep(seconds)
