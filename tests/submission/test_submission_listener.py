"""Submission listener details: AUTH, header facts, pool choice, config errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiosmtplib
import pytest

from bounced.config import Config
from bounced.config.loader import build
from bounced.errors import ConfigError
from bounced.submission.listener import choose_sending_ip, message_facts
from tests.harness import running_daemon
from tests.submission.nexthop import NextHop
from tests.submission.test_sending_flow import outbound, sending_config


@pytest.fixture
async def hop() -> AsyncIterator[NextHop]:
    server = await NextHop().start()
    yield server
    await server.stop()


async def test_auth_required_when_configured(tmp_path: Path, hop: NextHop) -> None:
    config = sending_config(tmp_path, hop, submission={"username": "platform", "password": "pw"})
    async with running_daemon(config) as d:
        port = d.submission_port
        assert port
        anonymous = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        async with anonymous:
            with pytest.raises(aiosmtplib.SMTPSenderRefused) as refused:
                await anonymous.sendmail("p@x", ["a@dest.example"], outbound("a@dest.example"))
            assert refused.value.code == 530
        wrong = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        async with wrong:
            with pytest.raises(aiosmtplib.SMTPAuthenticationError):
                await wrong.login("platform", "nope")
        for mechanism in ("plain", "login"):
            client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
            async with client:
                await client.ehlo()
                await getattr(client, f"auth_{mechanism}")("platform", "pw")
                await client.sendmail(
                    "p@x", [f"{mechanism}@dest.example"], outbound(f"{mechanism}@dest.example")
                )
        await hop.wait_for(lambda: len(hop.received) == 2)
        assert sorted(r.recipient for r in hop.received) == ["login@dest.example", "plain@dest.example"]


def test_message_facts() -> None:
    raw = (
        b"From: =?utf-8?q?Shop?= <News@Shop.EXAMPLE>\r\nMessage-ID:\r\n <abc@shop.example>\r\n"
        b"X-Mailing-ID: spring-2026\r\n\r\nbody"
    )
    assert message_facts(raw) == ("spring-2026", "shop.example", "<abc@shop.example>")
    assert message_facts(b"Subject: none\r\n\r\n") == (None, None, None)
    assert message_facts(b"not a header line at all") == (None, None, None)


def test_choose_sending_ip_is_stable_and_spread() -> None:
    ips = ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
    assert choose_sending_ip([], "a@b.c") is None
    picks = {f"user{i}@x.example": choose_sending_ip(ips, f"user{i}@x.example") for i in range(300)}
    assert set(picks.values()) == set(ips)
    assert all(choose_sending_ip(ips, a) == ip for a, ip in picks.items())


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"submission": {"listen": "nowhere"}}, "submission.listen"),
        ({"submission": {"username": "u"}}, "submission.password"),
        ({"submission": {"listen": "0.0.0.0:587", "username": "u", "password": "p"}}, "submission.tls_cert"),
        ({"relay": {"port": 0}}, "relay.port"),
        ({"relay": {"timeout": 0}}, "relay.timeout"),
        ({"pools": {"default": ["300.1.1.1"]}}, "pools.default[0]"),
        ({"pools": {"by_from_domain": {"shop.example": ["x"]}}}, "pools.by_from_domain.shop.example[0]"),
        ({"verp": {"local_prefix": "b+x"}}, "verp.local_prefix"),
        ({"verp": {"unsigned_bounces": "trust"}}, "verp.unsigned_bounces"),
        ({"resend": {"greylist_margin": -1}}, "resend.greylist_margin"),
        ({"resend": {"concurrency": 0}}, "resend.concurrency"),
        ({"resend": {"default": {"factor": 0.5}}}, "resend.default.factor"),
    ],
)
def test_sending_config_errors_name_the_key(data: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as exc:
        build(Config, data)
    assert exc.value.key == key, str(exc.value)


async def test_submission_needs_a_verp_secret(tmp_path: Path, hop: NextHop) -> None:
    config = sending_config(tmp_path, hop, verp={"secret": ""})
    with pytest.raises(ConfigError) as exc:
        async with running_daemon(config):
            pass
    assert exc.value.key == "verp.secret"


async def test_verp_domain_must_be_accepted_by_the_return_path_listener(tmp_path: Path, hop: NextHop) -> None:
    config = sending_config(tmp_path, hop, smtp={"domains": ["other.example"]})
    with pytest.raises(ConfigError) as exc:
        async with running_daemon(config):
            pass
    assert exc.value.key == "verp.domain"
    # a wildcard that covers it is fine
    config = sending_config(tmp_path, hop, smtp={"domains": ["*.example.net"]})
    async with running_daemon(config) as d:
        assert d.submission_port
