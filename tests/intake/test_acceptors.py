"""`[smtp] acceptors = 2`: SMTP sessions in two acceptor processes, messages made durable by
the daemon's process. Real processes, real loopback SMTP, a real SQLite file."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import aiosmtplib
import pytest

from bounced.config import SmtpConfig
from bounced.config.loader import build
from bounced.daemon import serve
from bounced.errors import ConfigError
from bounced.intake import acceptor_pool
from bounced.intake.acceptor_pool import AcceptorPool
from bounced.model import ProfileStatus
from bounced.sdnotify import Notifier
from tests.conftest import child_pids
from tests.harness import RunningDaemon, make_config, running_daemon, send_mail
from tests.intake.running import intake_column

FIXTURES = Path(__file__).parent.parent / "daemon" / "fixtures"
HARD = (FIXTURES / "hard_userunknown.eml").read_bytes()
RCPT = ["b@bounces.example.com"]


def pool_of(d: RunningDaemon) -> AcceptorPool:
    listener = d.daemon._listener
    assert isinstance(listener, AcceptorPool)
    return listener


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[RunningDaemon]:
    config = make_config(
        tmp_path,
        smtp={
            "domains": ["bounces.example.com"],
            "acceptors": 2,
            "max_message_size": 20_000,
            "max_connections_per_ip": 0,  # 60 sessions at once from 127.0.0.1
        },
        verp={"unsigned_bounces": "suppress"},
    )
    async with running_daemon(config) as d:
        yield d


def intake_ids(db: str) -> set[int]:
    return set(intake_column(db, "id"))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text()


async def test_hard_bounce_through_an_acceptor_is_durable_before_250_and_applied(
    daemon: RunningDaemon,
) -> None:
    assert len(pool_of(daemon).pids) == 2
    assert all(pid != os.getpid() for pid in pool_of(daemon).pids)
    _, reply = await send_mail(daemon.smtp_port, "", RCPT, HARD)
    intake_id = int(reply.rsplit(" ", 1)[1])
    assert intake_id in intake_ids(daemon.config.storage.path)  # on disk when the 250 came
    await daemon.drained()
    profile = await daemon.store.get_profile("jane.doe@example.org")
    assert profile is not None and profile.status is ProfileStatus.HARD_BOUNCED
    assert await daemon.store.get_suppression("jane.doe@example.org") is not None


async def test_many_sessions_spread_over_both_acceptors_each_message_once(daemon: RunningDaemon) -> None:
    total = 60

    async def one(i: int) -> int:
        raw = HARD.replace(b"jane.doe@example.org", f"user{i}@example.org".encode())
        _, reply = await send_mail(daemon.smtp_port, "", RCPT, raw)
        return int(reply.rsplit(" ", 1)[1])

    ids = await asyncio.gather(*(one(i) for i in range(total)))
    assert len(set(ids)) == total
    assert set(ids) <= intake_ids(daemon.config.storage.path)
    await daemon.drained()
    assert await daemon.store.count_suppressions() == total


async def test_foreign_domain_550_and_oversize_552_come_from_the_acceptors(daemon: RunningDaemon) -> None:
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await send_mail(daemon.smtp_port, "", ["someone@elsewhere.example"], HARD)
    assert refused.value.recipients[0].code == 550
    with pytest.raises(aiosmtplib.SMTPResponseException) as big:
        await send_mail(daemon.smtp_port, "", RCPT, HARD + b"x" * 30_000 + b"\r\n")
    assert big.value.code == 552
    assert intake_ids(daemon.config.storage.path) == set()


async def test_a_killed_acceptor_is_replaced_and_mail_still_flows(daemon: RunningDaemon) -> None:
    pool = pool_of(daemon)
    victim = pool.pids[0]
    os.kill(victim, signal.SIGKILL)
    async with asyncio.timeout(15):
        while (
            victim in pool.pids
            or len(pool.pids) < 2
            or not all(a.ready.done() for a in pool.acceptors.values())
        ):
            await asyncio.sleep(0.05)
    for _ in range(6):  # whichever acceptor the kernel hands the connection to
        await send_mail(daemon.smtp_port, "", RCPT, HARD)
    assert len(intake_ids(daemon.config.storage.path)) == 6


async def test_spool_failure_in_the_daemon_gets_451_from_the_acceptor(daemon: RunningDaemon) -> None:
    await daemon.store.close()  # nothing can be made durable any more
    with pytest.raises(aiosmtplib.SMTPDataError) as info:
        await send_mail(daemon.smtp_port, "", RCPT, HARD)
    assert info.value.code == 451


async def test_reload_reaches_the_acceptors_at_the_next_connection(tmp_path: Path) -> None:
    path = tmp_path / "bounced.toml"
    base = make_config(tmp_path)
    text = (
        f'[smtp]\nlisten = "{base.smtp.listen}"\nacceptors = 2\ndomains = ["{{domain}}"]\n'
        f'[storage]\npath = "{base.storage.path}"\n'
    )
    path.write_text(text.format(domain="bounces.example.com"))
    from bounced.config import load_config

    async with running_daemon(load_config(str(path))) as d:
        await send_mail(d.smtp_port, "", RCPT, HARD)
        path.write_text(text.format(domain="returns.example.net"))
        assert await d.daemon.reload()
        async with asyncio.timeout(10):
            while True:  # both acceptors take the frame at their own pace
                try:
                    await send_mail(d.smtp_port, "", RCPT, HARD)
                except aiosmtplib.SMTPRecipientsRefused:
                    break
                await asyncio.sleep(0.05)
        await send_mail(d.smtp_port, "", ["b@returns.example.net"], HARD)


async def test_stop_ends_every_acceptor_and_closes_the_port(tmp_path: Path) -> None:
    config = make_config(tmp_path, smtp={"acceptors": 2})
    async with running_daemon(config) as d:
        pids = pool_of(d).pids
        port = d.smtp_port
        await send_mail(port, "", RCPT, HARD)
    assert not any(alive(pid) for pid in pids)
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)


def test_acceptors_out_of_range_is_refused_naming_the_key() -> None:
    with pytest.raises(ConfigError) as info:
        build(SmtpConfig, {"acceptors": 65}, "smtp")
    assert "smtp.acceptors" in str(info.value)
    with pytest.raises(ConfigError) as info:
        build(SmtpConfig, {"acceptors": "two"}, "smtp")
    assert "smtp.acceptors" in str(info.value)


async def test_acceptors_that_keep_failing_make_serve_stop_and_exit_1(
    tmp_path: Path, tls_files: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(acceptor_pool, "RESTART_DELAY", 0.01)  # the back-off, in a test's time
    cert, key = tls_files
    config = make_config(tmp_path, smtp={"acceptors": 1, "tls_cert": cert, "tls_key": key})
    served = asyncio.create_task(serve(config, notifier=Notifier("")))
    async with asyncio.timeout(20):
        while not (children := child_pids(os.getpid(), b"bounced.intake.acceptor")):
            await asyncio.sleep(0.05)
        while True:  # an acceptor is up: the greeting comes (the port alone is the daemon's)
            try:
                reader, writer = await asyncio.open_connection(*config.smtp.host_port)
                greeting = await reader.readline()
                writer.close()
                if greeting.startswith(b"220"):
                    break
            except OSError:
                pass
            await asyncio.sleep(0.05)
    Path(cert).unlink()  # every new acceptor now fails at start
    os.kill(children[0], signal.SIGKILL)
    assert await asyncio.wait_for(served, 60) == 1
    assert child_pids(os.getpid(), b"bounced.intake.acceptor") == []


async def test_starttls_and_a_big_message_through_an_acceptor(
    tmp_path: Path, tls_files: tuple[str, str]
) -> None:
    cert, key = tls_files
    config = make_config(
        tmp_path,
        smtp={"acceptors": 2, "tls_cert": cert, "tls_key": key, "max_message_size": 8_000_000},
        processing={"burst_hold": 0.0},
        verp={"unsigned_bounces": "suppress"},
    )
    # A 5 MB bounce (a returned original with a big attachment), every byte kept.
    body = b"".join(b"line %07d of the returned original, long enough\r\n" % i for i in range(100_000))
    big = HARD.replace(b"\r\n\r\n", b"\r\nX-Filler: yes\r\n\r\n", 1) + body
    async with running_daemon(config) as d:
        context = ssl.create_default_context(cafile=cert)
        context.check_hostname = False
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=d.smtp_port, start_tls=False, tls_context=context)
        async with client:
            await client.ehlo()
            assert client.supports_extension("starttls")
            await client.starttls()
            _, reply = await client.sendmail("", RCPT, big)
        intake_id = int(reply.rsplit(" ", 1)[1])
        await d.drained(timeout=30)
        stored = await d.store.get_intake(intake_id)
        assert stored is not None
        assert hashlib.sha256(stored.raw).digest() == hashlib.sha256(big).digest()
        assert await d.store.get_suppression("jane.doe@example.org") is not None


async def test_the_connection_limit_holds_across_acceptors(tmp_path: Path) -> None:
    """max_connections = 4 over two acceptors: whichever acceptor the kernel hands each of 6
    connections to, the first 4 are greeted and the other 2 get 421 (the count is shared)."""
    config = make_config(tmp_path, smtp={"acceptors": 2, "max_connections": 4})
    async with running_daemon(config) as d:
        opened, greetings = [], []
        try:
            for _ in range(6):  # one at a time: each is counted before the next arrives
                opened.append(await asyncio.open_connection("127.0.0.1", d.smtp_port))
                greetings.append(await asyncio.wait_for(opened[-1][0].readline(), 10))
        finally:
            for _, writer in opened:
                writer.close()
        assert [g[:3] for g in greetings] == [b"220"] * 4 + [b"421"] * 2
