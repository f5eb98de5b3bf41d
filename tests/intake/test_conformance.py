"""SMTP conformance of the intake, over real sockets to a daemon with two acceptor processes
and a real SQLite file: smuggling probes, RFC 2920 pipelining, 8-bit and NUL bytes,
SMTPUTF8/8BITMIME with an RFC 6533 bounce, header-only messages and the size limit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.harness import RunningDaemon
from tests.intake.running import acceptor_daemon, intake_column

LIMIT = 20_000
RCPT = b"b@bounces.example.com"
TRANSACTION = b"MAIL FROM:<>\r\nRCPT TO:<" + RCPT + b">\r\nDATA\r\n"
GLOBAL_DSN = (Path(__file__).parents[1] / "parse" / "fixtures" / "rfc6533_global.eml").read_bytes()


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[RunningDaemon]:
    async with acceptor_daemon(tmp_path, max_message_size=LIMIT) as d:
        yield d


def stored(d: RunningDaemon) -> list[bytes]:
    return [bytes(raw) for raw in intake_column(d.config.storage.path, "raw")]


async def session(port: int, *writes: bytes, ehlo: bytes = b"EHLO client.test\r\n") -> list[bytes]:
    """The server's replies (each a list of final lines, continuation lines folded in) to
    `writes`, each sent whole after the previous one's replies: the way a pipelining client
    sends groups of commands. The session ends with QUIT."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    replies: list[bytes] = [await reader.readline()]
    try:
        for chunk in (ehlo, *writes, b"QUIT\r\n"):
            writer.write(chunk)
            await writer.drain()
            expected = _replies_expected(chunk)
            for _ in range(expected):
                reply = b""
                while True:
                    line = await asyncio.wait_for(reader.readline(), 10)
                    assert line, f"connection closed; replies so far: {replies}"
                    reply += line
                    if line[3:4] == b" ":
                        break
                replies.append(reply)
        assert await asyncio.wait_for(reader.read(), 10) == b""  # nothing more after 221
    finally:
        writer.close()
    return replies


def _replies_expected(chunk: bytes) -> int:
    """Commands in a chunk of client bytes: one reply per command line and one per complete
    message (a message's own lines are no commands)."""
    count, in_data = 0, False
    rest = chunk
    while rest:
        if in_data:
            end = rest.find(b"\r\n.\r\n")
            if rest.startswith(b".\r\n"):
                end, skip = 0, 3
            else:
                skip = 5
            assert end >= 0, "a test chunk ends inside a message"
            rest, in_data, count = rest[end + skip :], False, count + 1
            continue
        line, _, rest = rest.partition(b"\r\n")
        count += 1
        in_data = line.upper() == b"DATA"
    return count


@pytest.mark.parametrize(
    "bogus", [b"\n.\n", b"\n.\r\n", b"\r\n.\n", b"\r.\r", b"\r.\r\n", b"\r\n.\r", b"\n..\n", b"\r\n\x00.\r\n"]
)
async def test_a_bogus_end_and_a_second_transaction_make_one_message(
    daemon: RunningDaemon, bogus: bytes
) -> None:
    """SMTP smuggling: what follows a bogus end of data is content of the first message."""
    smuggled = TRANSACTION + b"Subject: smuggled\r\n\r\nsecond\r\n"
    message = b"Subject: first\r\n\r\nfirst" + bogus + smuggled + b".\r\n"
    replies = await session(daemon.smtp_port, TRANSACTION + message)
    assert [r[:3] for r in replies] == [b"220", b"250", b"250", b"250", b"354", b"250", b"221"]
    [raw] = stored(daemon)
    assert raw.startswith(b"Subject: first\r\n") and b"Subject: smuggled" in raw and b"second" in raw


async def test_pipelined_transactions_rfc2920(daemon: RunningDaemon) -> None:
    """PIPELINING is advertised; a whole transaction in one write, then two more with a
    refused recipient and an RSET, each reply in order."""
    first = TRANSACTION + b"Subject: one\r\n\r\n1\r\n.\r\n"
    two = (
        b"MAIL FROM:<>\r\nRCPT TO:<x@elsewhere.example>\r\nRCPT TO:<" + RCPT + b">\r\n"
        b"DATA\r\nSubject: two\r\n\r\n2\r\n.\r\nRSET\r\n" + TRANSACTION + b"Subject: three\r\n\r\n3\r\n.\r\n"
    )
    replies = await session(daemon.smtp_port, first, two)
    assert b"250-PIPELINING" in replies[1]
    codes = [r[:3] for r in replies[2:]]
    assert codes == [
        *[b"250", b"250", b"354", b"250"],
        *[b"250", b"550", b"250", b"354", b"250"],
        *[b"250", b"250", b"250", b"354", b"250", b"221"],
    ]
    assert stored(daemon) == [
        b"Subject: one\r\n\r\n1\r\n",
        b"Subject: two\r\n\r\n2\r\n",
        b"Subject: three\r\n\r\n3\r\n",
    ]


async def test_nul_and_8bit_bytes_are_stored_as_received(daemon: RunningDaemon) -> None:
    every_byte = bytes(b for b in range(256) if b not in (10, 13))
    body = b"Subject: binary\r\n\r\n" + every_byte + b"\r\n\x00\r\n\xff\xfe\r\n"
    envelope = b"MAIL FROM:<> BODY=8BITMIME\r\nRCPT TO:<" + RCPT + b">\r\nDATA\r\n"
    replies = await session(daemon.smtp_port, envelope + body + b".\r\n")
    assert replies[-2].startswith(b"250 2.0.0")
    assert stored(daemon) == [body]


async def test_smtputf8_global_dsn_is_accepted_and_its_recipient_parsed(daemon: RunningDaemon) -> None:
    """RFC 6531/6533: a bounce about jöhn.dœ@例え.jp with SMTPUTF8 and 8BITMIME, LF endings."""
    message = GLOBAL_DSN.replace(b"\r\n", b"\n")
    replies = await session(
        daemon.smtp_port,
        b"MAIL FROM:<> SMTPUTF8 BODY=8BITMIME\r\nRCPT TO:<"
        + RCPT
        + b">\r\nDATA\r\n"
        + message
        + b"\r\n.\r\n",
    )
    assert b"250-SMTPUTF8" in replies[1] and b"250-8BITMIME" in replies[1]
    assert [r[:3] for r in replies[2:]] == [b"250", b"250", b"354", b"250", b"221"]
    assert stored(daemon) == [message.replace(b"\n", b"\r\n")]
    await daemon.drained()
    assert await daemon.store.get_suppression("jöhn.dœ@例え.jp") is not None


@pytest.mark.parametrize(
    "message", [b"Subject: headers only\r\n", b"Subject: headers only\r\nX-A: 1\r\n\r\n", b""]
)
async def test_header_only_and_empty_messages_are_stored(daemon: RunningDaemon, message: bytes) -> None:
    replies = await session(daemon.smtp_port, TRANSACTION + message + b".\r\n")
    assert replies[-2].startswith(b"250 2.0.0")
    assert stored(daemon) == [message]


async def test_size_limit_exactly_and_one_byte_over(daemon: RunningDaemon) -> None:
    """max_message_size counts the stored message (RFC 1870: CRLF pairs, not stuffed dots)."""
    head = b"Subject: size\r\n\r\n"
    filler = b"..x" + b"y" * 96 + b"\r\n"  # 101 bytes sent, 100 stored
    lines = filler * ((LIMIT - len(head)) // 100)
    exact = head + lines + b"z" * (LIMIT - len(head) - len(lines) // 101 * 100 - 2) + b"\r\n"
    over = exact[:-2] + b"z\r\n"
    replies = await session(daemon.smtp_port, TRANSACTION + exact + b".\r\n", TRANSACTION + over + b".\r\n")
    assert replies[5].startswith(b"250 2.0.0")
    assert replies[9] == b"552 Error: Too much mail data\r\n"
    [raw] = stored(daemon)
    assert len(raw) == LIMIT and raw == exact.replace(b"\r\n..", b"\r\n.")


async def test_a_9_mb_single_line_under_the_default_size_limit_is_stored(tmp_path: Path) -> None:
    """No line-length limit in DATA: RFC 5321's 1,000 bytes bind senders, and refusing a
    bounce that breaks it loses the bounce."""
    message = b"Subject: one long line\r\n\r\n" + b"x" * 9_000_000 + b"\r\n"
    async with acceptor_daemon(tmp_path) as d:
        replies = await session(d.smtp_port, TRANSACTION + message + b".\r\n")
        assert replies[-2].startswith(b"250 2.0.0")
        assert stored(d) == [message]
