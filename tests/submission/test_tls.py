"""STARTTLS on both sides: the relay (verified against relay.ca_file) and the submission
listener (AUTH over TLS). Certificates are made by the openssl command for the test."""

from __future__ import annotations

import ssl
from pathlib import Path

import aiosmtplib
import pytest

from bounced.errors import ConfigError
from tests.conftest import self_signed_certificate
from tests.harness import running_daemon
from tests.submission.nexthop import NextHop
from tests.submission.test_sending_flow import outbound, sending_config


@pytest.fixture
def cert_files(tmp_path: Path) -> tuple[str, str]:
    return self_signed_certificate(tmp_path, "relay.test")


def server_context(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def test_relay_starttls_with_private_ca_and_auth(tmp_path: Path, cert_files: tuple[str, str]) -> None:
    cert, key = cert_files
    hop = await NextHop(auth=("sender", "pw"), tls=server_context(cert, key)).start()
    try:
        relay = {"starttls": True, "ca_file": cert, "username": "sender", "password": "pw"}
        async with running_daemon(sending_config(tmp_path, hop, relay=relay)) as d:
            await aiosmtplib.send(
                outbound("t@dest.example"), sender="p@x", recipients=["t@dest.example"],
                hostname="127.0.0.1", port=d.submission_port, start_tls=False,
            )  # fmt: skip
            await hop.wait_for(lambda: hop.delivered_to("t@dest.example"))
    finally:
        await hop.stop()


async def test_relay_certificate_not_trusted_is_soft_and_not_sent(
    tmp_path: Path, cert_files: tuple[str, str]
) -> None:
    cert, key = cert_files
    hop = await NextHop(tls=server_context(cert, key)).start()
    try:
        config = sending_config(tmp_path, hop, relay={"starttls": True})  # system CAs only
        async with running_daemon(config) as d:
            await aiosmtplib.send(
                outbound("u@dest.example"), sender="p@x", recipients=["u@dest.example"],
                hostname="127.0.0.1", port=d.submission_port, start_tls=False,
            )  # fmt: skip
            await d.daemon.sending_side.run_until_idle()
            [event] = await d.store.events_for("u@dest.example")
            # our TLS setup failed, not the recipient: no count on the profile
            assert event.kind.value == "our_side" and event.reason.value == "networkerror"
            assert "CERTIFICATE_VERIFY_FAILED" in event.diagnostic
            assert await d.store.get_profile("u@dest.example") is None
            assert hop.received == []
    finally:
        await hop.stop()


async def test_unreadable_relay_ca_file_fails_at_start(tmp_path: Path) -> None:
    hop = await NextHop().start()
    try:
        config = sending_config(
            tmp_path, hop, relay={"starttls": True, "ca_file": str(tmp_path / "none.pem")}
        )
        with pytest.raises(ConfigError) as exc:
            async with running_daemon(config):
                pass
        assert exc.value.key == "relay.ca_file"
    finally:
        await hop.stop()


async def test_submission_starttls_then_auth(tmp_path: Path, cert_files: tuple[str, str]) -> None:
    cert, key = cert_files
    hop = await NextHop().start()
    try:
        submission = {"username": "platform", "password": "pw", "tls_cert": cert, "tls_key": key}
        async with running_daemon(sending_config(tmp_path, hop, submission=submission)) as d:
            client = aiosmtplib.SMTP(
                hostname="127.0.0.1", port=d.submission_port, start_tls=True,
                tls_context=ssl.create_default_context(cafile=cert),
            )  # fmt: skip
            async with client:
                assert client.get_transport_info("ssl_object") is not None
                await client.login("platform", "pw")
                await client.sendmail("p@x", ["s@dest.example"], outbound("s@dest.example"))
            await hop.wait_for(lambda: hop.delivered_to("s@dest.example"))
    finally:
        await hop.stop()
