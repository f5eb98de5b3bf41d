"""Connection, command and time limits of the SMTP intake, through real acceptor processes."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest

from bounced.config import SmtpConfig
from bounced.config.loader import build
from bounced.errors import ConfigError
from bounced.intake.listener import LISTEN_BACKLOG
from tests.harness import send_mail
from tests.intake.running import acceptor_daemon

RCPT = ["b@bounces.example.com"]
MESSAGE = b"From: MAILER-DAEMON@mx.example.org\r\nSubject: Undelivered Mail\r\n\r\nSorry.\r\n"
Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def connect(port: int, source: str = "127.0.0.1") -> tuple[Conn, bytes]:
    """A connection and its first line (the greeting or the 421)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    return (reader, writer), await asyncio.wait_for(reader.readline(), 10)


def close_all(conns: list[Conn]) -> None:
    for _, writer in conns:
        writer.close()


async def test_450_open_connections_leave_room_for_a_well_behaved_client(tmp_path: Path) -> None:
    """max_connections = 500 over two acceptors: with 450 connections held (wherever the
    kernel put them) every message of a normal client is accepted, and the limit is the
    total: connection 501 is the first to get 421."""
    async with acceptor_daemon(tmp_path, max_connections=500, max_connections_per_ip=0) as d:
        held: list[Conn] = []
        try:
            for _ in range(450):
                conn, greeting = await connect(d.smtp_port)
                held.append(conn)
                assert greeting.startswith(b"220"), (len(held), greeting)
            for i in range(20):
                _, reply = await send_mail(d.smtp_port, "", RCPT, MESSAGE + b"n=%d\r\n" % i)
                assert "queued as" in reply
            greeted = 450
            while True:
                conn, greeting = await connect(d.smtp_port)
                held.append(conn)
                if not greeting.startswith(b"220"):
                    break
                greeted += 1
            assert greeting.startswith(b"421 4.7.0 Too many connections")
            assert greeted == 500
        finally:
            close_all(held)


async def test_the_limit_per_address_holds_across_acceptors(tmp_path: Path) -> None:
    async with acceptor_daemon(tmp_path, max_connections_per_ip=3) as d:
        held: list[Conn] = []
        try:
            for _ in range(3):
                conn, greeting = await connect(d.smtp_port)
                held.append(conn)
                assert greeting.startswith(b"220")
            conn, greeting = await connect(d.smtp_port)
            held.append(conn)
            assert greeting.startswith(b"421 4.7.0 Too many connections from your address")
            conn, greeting = await connect(d.smtp_port, source="127.0.0.2")  # another client
            held.append(conn)
            assert greeting.startswith(b"220")
            held.pop(0)[1].close()  # one of the three goes: room for one more
            async with asyncio.timeout(10):
                while True:
                    conn, greeting = await connect(d.smtp_port)
                    held.append(conn)
                    if greeting.startswith(b"220"):
                        break
                    await asyncio.sleep(0.02)
        finally:
            close_all(held)


async def test_a_session_that_never_sends_data_is_closed_after_max_commands(tmp_path: Path) -> None:
    async with acceptor_daemon(tmp_path, max_recipients=1, max_commands=11) as d:
        (reader, writer), greeting = await connect(d.smtp_port)
        assert greeting.startswith(b"220")
        writer.write(b"EHLO c.test\r\n" + b"NOOP\r\nDATA\r\n" * 15)  # a DATA refused (503) counts
        replies = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        finals = [line for line in replies.split(b"\r\n") if line[3:4] == b" "]
        assert len(finals) == 12 and finals[1:11] == [b"250 OK", b"503 Error: need RCPT command"] * 5
        assert finals[-1] == b"421 4.7.0 Too many commands without a message, closing"
        # Each message starts the count again: 5 transactions (20 commands) in one session.
        (reader, writer), _ = await connect(d.smtp_port)
        transaction = b"MAIL FROM:<>\r\nRCPT TO:<b@bounces.example.com>\r\nDATA\r\n" + MESSAGE + b".\r\n"
        writer.write(b"EHLO c.test\r\n" + transaction * 5 + b"QUIT\r\n")
        replies = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        assert replies.count(b"250 2.0.0 OK queued as") == 5 and replies.endswith(b"221 Bye\r\n")


async def test_trickling_clients_are_cut_by_the_idle_and_data_timeouts(tmp_path: Path) -> None:
    """Bytes that keep coming do not keep a session: the idle timeout runs between
    complete commands and the data timeout is a budget for the whole DATA phase."""
    async with acceptor_daemon(tmp_path, idle_timeout=0.5, data_timeout=0.5) as d:

        async def trickle(prologue: bytes, slow: bytes) -> bytes:
            (reader, writer), _ = await connect(d.smtp_port)
            writer.write(prologue)
            seen = b""

            async def drip() -> None:
                for byte in slow:
                    writer.write(bytes([byte]))
                    await asyncio.sleep(0.05)

            dripping = asyncio.create_task(drip())
            try:
                seen = await asyncio.wait_for(reader.read(), 20)  # EOF: the server hung up ...
                assert not dripping.done()  # ... while the client was still sending
            finally:
                dripping.cancel()
                writer.close()
            return seen

        # A command line that never ends.
        assert await trickle(b"", b"HELO " + b"x" * 400) == b""
        # A DATA phase that never ends.
        envelope = b"HELO c.test\r\nMAIL FROM:<>\r\nRCPT TO:<b@bounces.example.com>\r\nDATA\r\n"
        seen = await trickle(envelope, b"Subject: slow\r\n" + b"y" * 400)
        assert b"354 " in seen and b"250 2.0.0" not in seen
        assert await d.store.pending_intake() == []


def test_limit_keys_are_checked_by_name() -> None:
    with pytest.raises(ConfigError) as info:
        build(SmtpConfig, {"max_connections_per_ip": -1}, "smtp")
    assert "smtp.max_connections_per_ip" in str(info.value)
    with pytest.raises(ConfigError) as info:
        build(SmtpConfig, {"max_commands": 50}, "smtp")  # not room for 100 recipients
    assert "smtp.max_commands" in str(info.value) and "110" in str(info.value)
    assert build(SmtpConfig, {"max_commands": 0, "max_connections_per_ip": 0}, "smtp").max_commands == 0


async def test_the_accept_queue_takes_a_burst_of_connections(tmp_path: Path) -> None:
    """The listening socket keeps LISTEN_BACKLOG, not the 100 create_server sets unless told:
    past that a burst overflows the queue and clients wait for SYN-ACK retries (seconds)."""
    ss = shutil.which("ss")
    if ss is None:
        pytest.skip("ss (iproute2) is not installed: cannot read the listen backlog")
    async with acceptor_daemon(tmp_path, max_connections_per_ip=0) as d:
        out = subprocess.run(
            [ss, "-ltnH", f"sport = :{d.smtp_port}"], capture_output=True, text=True, check=True
        )
        assert [line.split()[2] for line in out.stdout.splitlines()] == [str(LISTEN_BACKLOG)]
        held = await asyncio.gather(*(connect(d.smtp_port) for _ in range(400)))
        close_all([conn for conn, _ in held])
        assert all(greeting.startswith(b"220") for _, greeting in held)
