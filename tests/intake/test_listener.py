"""The listener on its own: real SMTP sessions to a real listener, spooling into real SQLite."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import aiosmtplib
import pytest

from bounced.clock import FakeClock
from bounced.config import SmtpConfig, StorageConfig
from bounced.errors import ConfigError
from bounced.intake.listener import BounceHandler, Listener, domain_accepted
from bounced.model import IntakeState
from bounced.store import open_store
from bounced.store.sqlite import SQLiteStore
from tests.harness import send_mail

MESSAGE = b"From: MAILER-DAEMON@mx.example.org\r\nSubject: Undelivered Mail\r\n\r\nSorry.\r\n"


class Running:
    def __init__(self, listener: Listener, store: SQLiteStore, woken: list[int]) -> None:
        self.listener = listener
        self.store = store
        self.woken = woken

    @property
    def port(self) -> int:
        return self.listener.port


async def start_listener(db_path: Path, **smtp: object) -> tuple[Listener, SQLiteStore, list[int]]:
    store = await open_store(StorageConfig(path=str(db_path)))
    settings = replace(SmtpConfig(listen="127.0.0.1:0", domains=["bounces.example.com"]), **smtp)
    woken: list[int] = []
    handler = BounceHandler(store, FakeClock(), lambda: settings, woken.append)
    listener = Listener(handler, lambda: settings)
    try:
        await listener.start()
    except BaseException:
        await store.close()
        raise
    return listener, store, woken


@pytest.fixture
async def running(db_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Running]:
    overrides = getattr(request, "param", {})
    listener, store, woken = await start_listener(db_path, **overrides)
    yield Running(listener, store, woken)
    await listener.stop(grace=1.0)
    await store.close()


async def test_bounce_is_spooled_durably_before_250(running: Running) -> None:
    _, reply = await send_mail(running.port, "", ["b+tok@bounces.example.com"], MESSAGE)
    assert reply.startswith("2.0.0 OK queued as ")
    intake_id = int(reply.rsplit(" ", 1)[1])
    assert running.woken == [intake_id]
    stored = await running.store.get_intake(intake_id)
    assert stored is not None
    assert stored.raw == MESSAGE
    assert stored.mail_from == ""
    assert stored.rcpt_tos == ("b+tok@bounces.example.com",)
    assert stored.peer.startswith("127.0.0.1:")
    assert stored.state is IntakeState.PENDING


async def test_domain_match_is_case_insensitive_and_postmaster_is_accepted(running: Running) -> None:
    await send_mail(running.port, "", ["X@Bounces.Example.COM", "postmaster"], MESSAGE)
    pending = await running.store.pending_intake()
    assert pending[0].rcpt_tos == ("X@Bounces.Example.COM", "postmaster")


async def test_foreign_domain_gets_550_never_relayed(running: Running) -> None:
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as info:
        await send_mail(running.port, "spammer@evil.example", ["victim@gmail.com"], MESSAGE)
    assert info.value.recipients[0].code == 550
    assert "5.7.1" in info.value.recipients[0].message
    assert await running.store.pending_intake() == []


async def test_mixed_recipients_keep_only_ours(running: Running) -> None:
    refused, _ = await send_mail(running.port, "", ["a@bounces.example.com", "a@other.example"], MESSAGE)
    assert refused["a@other.example"][0] == 550
    assert (await running.store.pending_intake())[0].rcpt_tos == ("a@bounces.example.com",)


@pytest.mark.parametrize("running", [{"max_message_size": 2000}], indirect=True)
async def test_oversized_message_gets_552_and_size_is_advertised(running: Running) -> None:
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=running.port, start_tls=False)
    async with client:
        await client.ehlo()
        assert client.esmtp_extensions["size"] == "2000"
    big = MESSAGE + (b"x" * 70 + b"\r\n") * 50
    # A client that declares SIZE= is refused at MAIL FROM ...
    with pytest.raises(aiosmtplib.SMTPSenderRefused) as info:
        await send_mail(running.port, "", ["b@bounces.example.com"], big)
    assert info.value.code == 552
    # ... one that does not is refused after DATA.
    reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
    await reader.readline()
    for line in (b"HELO c.test", b"MAIL FROM:<>", b"RCPT TO:<b@bounces.example.com>", b"DATA"):
        writer.write(line + b"\r\n")
        await reader.readline()
    writer.write(big + b".\r\n")
    assert (await asyncio.wait_for(reader.readline(), 5)).startswith(b"552")
    writer.close()
    assert await running.store.pending_intake() == []


@pytest.mark.parametrize("running", [{"max_recipients": 2}], indirect=True)
async def test_too_many_recipients_gets_452(running: Running) -> None:
    rcpts = [f"b{i}@bounces.example.com" for i in range(3)]
    refused, _ = await send_mail(running.port, "", rcpts, MESSAGE)
    assert refused == {"b2@bounces.example.com": (452, "4.5.3 Too many recipients")}
    assert (await running.store.pending_intake())[0].rcpt_tos == tuple(rcpts[:2])


@pytest.mark.parametrize("running", [{"max_connections": 2}], indirect=True)
async def test_connection_beyond_limit_gets_421(running: Running) -> None:
    held = [aiosmtplib.SMTP(hostname="127.0.0.1", port=running.port, start_tls=False) for _ in range(2)]
    for client in held:
        await client.connect()
    reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
    greeting = await asyncio.wait_for(reader.readline(), 5)
    assert greeting.startswith(b"421 4.7.0")
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the server
    writer.close()
    for client in held:
        await client.quit()
    # A slot is free again once a client has gone.
    _, reply = await send_mail(running.port, "", ["b@bounces.example.com"], MESSAGE)
    assert "queued" in reply


@pytest.mark.parametrize("running", [{"idle_timeout": 0.3}], indirect=True)
async def test_idle_connection_is_closed(running: Running) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
    assert (await reader.readline()).startswith(b"220")
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()


@pytest.mark.parametrize("running", [{"data_timeout": 0.3, "idle_timeout": 30.0}], indirect=True)
async def test_stalled_data_phase_is_cut_and_nothing_is_spooled(running: Running) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
    await reader.readline()
    for line in (b"HELO c.test", b"MAIL FROM:<>", b"RCPT TO:<b@bounces.example.com>", b"DATA"):
        writer.write(line + b"\r\n")
        await reader.readline()
    writer.write(b"Subject: half a message\r\n")
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    assert await running.store.pending_intake() == []


async def test_spool_failure_gets_451_never_250(running: Running) -> None:
    await running.store.close()  # the database is gone: nothing can be made durable
    with pytest.raises(aiosmtplib.SMTPDataError) as info:
        await send_mail(running.port, "", ["b@bounces.example.com"], MESSAGE)
    assert info.value.code == 451
    assert "4.3.0" in info.value.message
    assert running.woken == []


async def test_empty_domain_list_refused_on_a_public_address(db_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        await start_listener(db_path, listen="0.0.0.0:0", domains=[])
    assert info.value.key == "smtp.domains"


async def test_empty_domain_list_accepts_any_domain_on_loopback(db_path: Path) -> None:
    listener, store, _ = await start_listener(db_path, domains=[])
    try:
        await send_mail(listener.port, "", ["anyone@anywhere.example"], MESSAGE)
        assert len(await store.pending_intake()) == 1
    finally:
        await listener.stop(1.0)
        await store.close()


def test_domain_accepted_wildcards() -> None:
    domains = ("bounces.example.com", "*.mail.example.net")
    assert domain_accepted("x@BOUNCES.example.com.", domains)
    assert domain_accepted("x@eu.mail.example.net", domains)
    assert not domain_accepted("x@mail.example.net", domains)
    assert not domain_accepted("x@evilbounces.example.com", domains)
    assert not domain_accepted("x@example.com", domains)


async def test_starttls_is_offered_and_works(db_path: Path, tls_files: tuple[str, str]) -> None:
    cert, key = tls_files
    listener, store, _ = await start_listener(db_path, tls_cert=cert, tls_key=key)
    try:
        context = ssl.create_default_context(cafile=cert)
        context.check_hostname = False
        client = aiosmtplib.SMTP(
            hostname="127.0.0.1", port=listener.port, start_tls=False, tls_context=context
        )
        async with client:
            await client.ehlo()
            assert client.supports_extension("starttls")
            await client.starttls()
            assert client.get_transport_info("ssl_object") is not None
            await client.sendmail("", ["b@bounces.example.com"], MESSAGE)
        assert len(await store.pending_intake()) == 1
        # STARTTLS stays optional: a plain session is still accepted.
        await send_mail(listener.port, "", ["b@bounces.example.com"], MESSAGE)
        assert len(await store.pending_intake()) == 2
    finally:
        await listener.stop(1.0)
        await store.close()


async def test_unreadable_certificate_is_a_config_error(db_path: Path, tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.pem")
    with pytest.raises(ConfigError) as info:
        await start_listener(db_path, tls_cert=missing, tls_key=missing)
    assert info.value.key == "smtp.tls_cert"


async def test_tests_run_on_the_loop_bounced_serve_uses() -> None:
    # uvloop differs from asyncio's loop in ways that matter here (its transports are not
    # asyncio.WriteTransport subclasses), so the in-process tests run on it too.
    assert type(asyncio.get_running_loop()).__module__.startswith("uvloop")
