"""BounceSMTP's DATA reader against aiosmtpd's own, over real loopback connections.

Two servers differ only in the DATA phase: `Fast` is BounceSMTP as the daemon runs it,
`Reference` calls aiosmtpd's `SMTP.smtp_DATA`. They must send the same replies and store the
same bytes, except where bounced deliberately differs from aiosmtpd 1.4.6:

- Bare LF: aiosmtpd 1.4.6 counts only CRLF as a line end (1.4.4 and older counted LF too),
  so an LF message of more than one line limit got `500 Line too long`. bounced ends a line
  at a bare LF and stores it as CRLF (`bounced.intake.data`). The reference is therefore sent
  `canonical(data)`: the same message as a conforming client sends it, all CRLF.
- Long lines: aiosmtpd answers 500 past `line_length_limit`; bounced has no line limit in
  DATA. The reference runs with a line limit larger than any test message.
- Size: aiosmtpd counts received bytes (stuffed dots, LF as one byte); bounced counts the
  stored message (RFC 1870). The reference runs without a size limit and the expectation
  is derived from what it stored: larger than SIZE -> 552, nothing stored.

Both get the message in the same chunks; `Fast` reads with a small stream limit (LINE), so
messages cross it and are read in pieces.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import tracemalloc
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bounced.config import SmtpConfig
from bounced.intake.limits import LocalCounts
from bounced.intake.protocol import BounceSMTP
from bounced.intake.replies import ReplyTally

LINE = 40  # Fast's line_length_limit (its StreamReader limit), small so that examples cross it
SIZE = 400  # Fast's data_size_limit
UNLIMITED = 10**8
END = b"\r\n.\r\n"
ENVELOPE = b"HELO client.test\r\nMAIL FROM:<>\r\nRCPT TO:<b@bounces.test>\r\nDATA\r\n"


class AiosmtpdData(BounceSMTP):
    async def _receive_data(self, arg: str) -> None:
        await SMTP.smtp_DATA(self, arg)


class Fast(BounceSMTP):
    line_length_limit = LINE


class Reference(AiosmtpdData):
    line_length_limit = UNLIMITED  # no 500 for long lines: bounced has none in DATA


class _Listener:
    def __init__(self) -> None:
        self.connections: set[object] = set()
        self.replies = ReplyTally()
        self.counts = LocalCounts()

    def settings(self) -> SmtpConfig:
        return SmtpConfig()


class Recorder:
    def __init__(self) -> None:
        self.stored: list[bytes] = []
        self.content: list[str | bytes | None] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.original_content, bytes)
        self.stored.append(envelope.original_content)
        self.content.append(envelope.content)
        return "250 OK stored"


class Server:
    def __init__(self, server: asyncio.Server, recorder: Recorder, listener: _Listener) -> None:
        self.port = int(server.sockets[0].getsockname()[1])
        self.recorder = recorder
        self.listener = listener


@asynccontextmanager
async def serving(cls: type[BounceSMTP], size: int | None = SIZE, **options: Any) -> AsyncIterator[Server]:
    loop = asyncio.get_running_loop()
    recorder, listener = Recorder(), _Listener()
    template = cls(recorder, listener, hostname="mx.test", data_size_limit=size, loop=loop, **options)  # type: ignore[arg-type]
    server = await loop.create_server(template.clone, host="127.0.0.1", port=0)
    try:
        yield Server(server, recorder, listener)
    finally:
        server.close()
        await server.wait_closed()


async def converse(
    port: int, chunks: Sequence[bytes], prologue: bytes = ENVELOPE, drop: bool = False
) -> bytes:
    """Everything the server sends: the prologue is pipelined, the chunks follow the 354 (if
    any), each given its own read; `drop` half-closes the connection after the last chunk."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(prologue)
        seen = b""
        if prologue.endswith(b"DATA\r\n"):
            while b"\r\n354 " not in seen and not reader.at_eof():
                seen += await reader.readuntil(b"\r\n")
        for chunk in chunks:
            writer.write(chunk)
            await writer.drain()
            for _ in range(3):  # let the server read it before the next one arrives
                await asyncio.sleep(0)
        if drop:
            writer.write_eof()
        return seen + await reader.read()  # up to the server's close (after QUIT, or the drop)
    finally:
        writer.close()


def split(stream: bytes, cuts: Sequence[int]) -> list[bytes]:
    points = [0, *sorted({c % (len(stream) + 1) for c in cuts}), len(stream)]
    return [stream[a:b] for a, b in itertools.pairwise(points) if b > a]


def canonical(stream: bytes) -> bytes:
    """`stream` (what follows the 354) as a conforming client sends the message bounced
    stores from it: every line end of the data CRLF, a lone-dot line that is not the end
    (its client did not stuff it) stuffed, and the CRLF an LF-only client adds after its
    last line left out. What follows the end of data is left as it is."""
    first = (b"\r\n" + stream).find(END)
    if first < 0:
        return stream
    data, rest = stream[:first], stream[first + 3 :]
    lines = [text.removesuffix(b"\r") for text in re.findall(rb"([^\n]*)\n", data)]
    if data.count(b"\r\n") == 1 and data.endswith(b"\n\r\n") and not data.endswith(b"\r\n\r\n"):
        lines.pop()
    return b"".join((b".." if text == b"." else text) + b"\r\n" for text in lines) + b".\r\n" + rest


def expected(reply: bytes, stored: list[bytes], size: int | None) -> tuple[bytes, list[bytes]]:
    """The reference's conversation with bounced's size rule applied to what it stored."""
    parts = reply.split(b"250 OK stored\r\n")
    assert len(parts) == len(stored) + 1
    out, kept = parts[0], []
    for message, after in zip(stored, parts[1:], strict=True):
        if size is not None and len(message) > size:
            out += b"552 Error: Too much mail data\r\n"
        else:
            out += b"250 OK stored\r\n"
            kept.append(message)
        out += after
    return out, kept


async def both(
    chunks: Sequence[bytes], prologue: bytes = ENVELOPE, drop: bool = False, size: int | None = SIZE
) -> tuple[tuple[bytes, list[bytes]], tuple[bytes, list[bytes]]]:
    """(Fast's replies and stored messages, what the reference says they must be)."""
    stream = b"".join(chunks)
    ref_stream = stream if drop or not prologue.endswith(b"DATA\r\n") else canonical(stream)
    ref_chunks = split(ref_stream, list(itertools.accumulate(map(len, chunks))))
    async with serving(Fast, size) as fast, serving(Reference, None) as ref:
        replies = await asyncio.wait_for(
            asyncio.gather(
                converse(fast.port, chunks, prologue, drop), converse(ref.port, ref_chunks, prologue, drop)
            ),
            timeout=5,
        )
        for _ in range(50):  # connection_lost runs a loop turn after the close
            if not fast.listener.connections and not ref.listener.connections:
                break
            await asyncio.sleep(0.001)
        assert not fast.listener.connections and not ref.listener.connections
        assert fast.recorder.content == fast.recorder.stored  # decode_data=False: content is the bytes
        return (replies[0], fast.recorder.stored), expected(replies[1], ref.recorder.stored, size)


def line(length: int, fill: bytes = b"x") -> bytes:
    """A line of `length` bytes including its CRLF."""
    return fill * (length - 2) + b"\r\n"


BOUNDARY_CASES = {
    "empty message": b".\r\n",
    "one empty line": b"\r\n.\r\n",
    "dot-stuffed lines": b"..\r\n.x\r\n...\r\nend.\r\n..\r\n.\r\n",
    "line of exactly the limit": line(LINE) + b".\r\n",
    "line one over": line(LINE + 1) + b".\r\n",
    "line two over (read whole by aiosmtpd)": line(LINE + 2) + b".\r\n",
    "line three over (read in pieces)": line(LINE + 3) + b".\r\n",
    "long line, no CRLF for a while": b"q" * (10 * LINE) + b"\r\n.\r\n",
    "size exactly the limit": line(LINE) * 10 + b".\r\n",
    "size one over": line(LINE) * 10 + b"x\r\n.\r\n",
    "size exactly the limit, then a line three over": line(LINE) * 10 + line(LINE + 3) + b"y\r\n.\r\n",
    "size over on a line two over the limit": line(LINE) * 9 + line(LINE + 2) + b".\r\n",
    "size over on a line three over the limit": line(LINE) * 9 + line(LINE + 3) + b".\r\n",
    "long line then size over": line(LINE + 5) + line(LINE) * 11 + b".\r\n",
    "size over then long line": line(LINE) * 11 + line(LINE + 5) + b".\r\n",
    "bare LF and CR": b"a\nb\rc\r\r\n\n\r\n.\r\n",
    "LF-only body longer than the line limit": b"".join(b"lf %d\n" % i for i in range(60)) + b"\r\n.\r\n",
    "LF-only, a stuffed dot and a lone dot": b"a\n..b\n.\nc\n\r\n.\r\n",
    "mixed endings over the line limit": b"".join(b"mix %d\ncrlf\r\n" % i for i in range(30)) + b".\r\n",
    "LF lines then a long CR-only stretch": b"x\n" * 30 + b"\ry" * 40 + b"\r\n.\r\n",
    "LF body of exactly the size once stored": b"y" * 38 + b"\n" + (b"y" * 38 + b"\r\n") * 9 + b".\r\n",
    "LF body one over once stored": b"y" * 39 + b"\n" + (b"y" * 38 + b"\r\n") * 9 + b".\r\n",
    "smuggling": b"a\r\n\n.\nb\r\n\r.\rc\r\n\n.\r\nd\r\n.\ne\r\n.\r\n",
    "terminator after a long line": b"w" * (LINE + 10) + b"\r\n.\r\n",
    "dot line inside a long line": b"w" * (LINE + 10) + b".\r\n" + b"v\r\n.\r\n",
}


@pytest.mark.parametrize("stream", BOUNDARY_CASES.values(), ids=BOUNDARY_CASES.keys())
@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 4096])
async def test_boundaries_match_aiosmtpd(stream: bytes, chunk: int) -> None:
    chunks = [stream[i : i + chunk] for i in range(0, len(stream), chunk)] + [b"QUIT\r\n"]
    fast, ref = await both(chunks)
    assert fast == ref
    assert fast[0].count(b"\r\n250 ") == 3 + len(fast[1])  # HELO, MAIL, RCPT, each message stored
    assert b"500 " not in fast[0]  # neither bare LF nor a long line is refused


async def test_known_answers() -> None:
    """Not only equal to the reference: what RFC 5321 and `bounced.intake.data` say, spelled out."""
    data = b"..\r\n.x\r\na\nb\r\n\n.\r\n.\r\nQUIT\r\n"
    (replies, stored), _ = await both([data])
    assert stored == [b".\r\nx\r\na\r\nb\r\n\r\n.\r\n"]  # "\n.\r\n" is content: a lone dot
    assert replies.endswith(b"250 OK stored\r\n221 Bye\r\n")
    (replies, stored), _ = await both([line(LINE + 300) + b".\r\nQUIT\r\n"])
    assert stored == [line(LINE + 300)]  # stored as received, no line limit
    (replies, stored), _ = await both([line(LINE) * 11 + b".\r\nQUIT\r\n"])
    assert stored == [] and b"552 Error: Too much mail data\r\n221 Bye" in replies
    (replies, stored), _ = await both([b".\r\nQUIT\r\n"])
    assert stored == [b""]
    # The same message with LF, CRLF and mixed endings (as smtplib sends a file: dots stuffed
    # after every LF, CRLF added when the data does not end with one): one stored form.
    lines = [b"Subject: x", b"", b".hidden", b".", b"x" * 120, b"end"]
    forms = []
    for ends in ([b"\n"] * 6, [b"\r\n"] * 6, [b"\n", b"\r\n"] * 3):
        text = b"".join(t + e for t, e in zip(lines, ends, strict=True))
        sent = re.sub(rb"(?m)^\.", b"..", text) + (b"" if text.endswith(b"\r\n") else b"\r\n")
        (replies, stored), _ = await both([sent + b".\r\nQUIT\r\n"])
        forms += stored
    assert forms == [b"Subject: x\r\n\r\n.hidden\r\n.\r\n" + b"x" * 120 + b"\r\nend\r\n"] * 3


@pytest.mark.parametrize("smuggled", [b"\n.\n", b"\n.\r\n", b"\r\n.\n", b"\r.\r", b"\r\n.\r", b"\r.\r\n"])
async def test_bogus_end_sequences_are_content(smuggled: bytes) -> None:
    """A second transaction after a bogus end is part of the first message, never a message."""
    second = b"MAIL FROM:<>\r\nRCPT TO:<x@bounces.test>\r\nDATA\r\nsmuggled\r\n"
    data = b"first" + smuggled + second + b".\r\nQUIT\r\n"
    (replies, stored), ref = await both([data])
    assert (replies, stored) == ref
    assert len(stored) == 1 and b"smuggled" in stored[0] and b"MAIL FROM:<>" in stored[0]
    assert replies.count(b"250 OK stored") == 1 and b"354" not in replies.split(b"354", 1)[1]


async def test_pipelined_transaction_after_the_terminator_is_left_for_the_next_command() -> None:
    second = b"MAIL FROM:<>\r\nRCPT TO:<c@bounces.test>\r\nDATA\r\nsecond\r\n.\r\nQUIT\r\n"
    for data in (b"first\r\n.\r\n", b".\r\n", line(LINE + 9) + b".\r\n"):
        fast, ref = await both([data + second])
        assert fast == ref
        assert fast[1][-1] == b"second\r\n" and fast[0].endswith(b"221 Bye\r\n")


@pytest.mark.parametrize(
    "prologue",
    [
        b"DATA\r\nQUIT\r\n",  # no HELO
        b"HELO c\r\nDATA\r\nQUIT\r\n",  # no MAIL
        b"HELO c\r\nMAIL FROM:<>\r\nDATA\r\nQUIT\r\n",  # no RCPT
        b"HELO c\r\nMAIL FROM:<>\r\nRCPT TO:<b@x.test>\r\nDATA now\r\nQUIT\r\n",  # argument
        b"HELO c\r\nMAIL FROM:<>\r\nRCPT TO:<b@x.test>\r\ndata\r\nhi\r\n.\r\nQUIT\r\n",
    ],
)
async def test_replies_before_data_match_aiosmtpd(prologue: bytes) -> None:
    fast, ref = await both([], prologue=prologue)
    assert fast == ref


async def test_memory_stays_bounded_when_the_client_sends_far_too_much() -> None:
    """32 MB past a 400-byte limit, as many lines and as one line: the reply is 552 and
    the process never holds more than a small multiple of what the socket delivers at once."""
    async with serving(Fast) as fast:
        for piece in (line(1000), b"L" * 65536):
            tracemalloc.start()
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", fast.port)
                writer.write(ENVELOPE)
                seen = b""
                while b"354 " not in seen:
                    seen += await reader.readuntil(b"\r\n")
                block = piece * (65536 // len(piece))
                for _ in range(32 * 1024 * 1024 // len(block)):
                    writer.write(block)
                    await writer.drain()
                writer.write(b"\r\n.\r\nQUIT\r\n")
                seen += await asyncio.wait_for(reader.read(), timeout=30)
                writer.close()
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            assert seen.endswith(b"552 Error: Too much mail data\r\n221 Bye\r\n")
            assert peak < 4 * 1024 * 1024, peak
    assert fast.recorder.stored == []


@pytest.mark.parametrize("utf8", [False, True])
async def test_decode_data_matches_aiosmtpd(utf8: bool) -> None:
    """The daemon runs with decode_data=False; the other setting still behaves as aiosmtpd's."""
    for data in (b"plain\r\n..dot\r\n.\r\nQUIT\r\n", "caf\u00e9\r\n.\r\nQUIT\r\n".encode()):
        options = {"decode_data": True, "enable_SMTPUTF8": utf8}
        async with serving(Fast, **options) as fast, serving(Reference, None, **options) as ref:
            replies = await asyncio.gather(converse(fast.port, [data]), converse(ref.port, [data]))
        assert replies[0] == replies[1]
        assert fast.recorder.content == ref.recorder.content
        assert fast.recorder.stored == ref.recorder.stored
        if not utf8 and data.startswith(b"caf"):
            assert b"500 Error: strict ASCII mode" in replies[0] and fast.recorder.stored == []
        else:
            assert isinstance(fast.recorder.content[0], str)


@pytest.mark.parametrize("longest", [1001, 1002, 100_000])
async def test_production_limits_match_aiosmtpd(longest: int) -> None:
    """The daemon's stream limit (1001) and size, lines around and far past 998 bytes, LF
    and CRLF, and a message larger than the reader's limit, so that it is read in pieces.
    (aiosmtpd itself would answer 500 to the longer lines: see the module docstring.)"""
    text = b"".join(b"Line %d of the report, ending with a dot.\r\n" % i for i in range(200))
    lf_text = text.replace(b"\r\n", b"\n")
    message = text + b"..dot-stuffed\r\n" + line(longest) + lf_text + b"\r\n.\r\nQUIT\r\n"
    async with serving(BounceSMTP, 10_000_000) as fast, serving(Reference, None) as ref:
        replies = await asyncio.gather(
            converse(fast.port, [message]), converse(ref.port, [canonical(message)])
        )
    assert replies[0] == replies[1] and fast.recorder.stored == ref.recorder.stored
    # Mixed endings: the closing CRLF after the last LF stays an empty line.
    assert fast.recorder.stored == [text + b".dot-stuffed\r\n" + line(longest) + text + b"\r\n"]


SPECIAL = [
    b"\r\n", b".", b"..", b".\r\n", b"..\r\n", b"...\r\n", b"\r\n..\r\n", b"\r", b"\n", b"\r\n.",
    b"\n.\n", b"\r.\r", b"\n.\r\n", b"\r\n.\n", b"\r\n.\r", b".\r", b"\r\r\n", b"\n\r\n",
    line(LINE), line(LINE - 1), line(LINE + 1), line(LINE + 2), line(LINE + 3), line(LINE + 4),
    b"." + line(LINE), b"y" * (3 * LINE), line(LINE, b"z") * 4, line(LINE, b"w") * 9, b"QUIT\r\n",
    b"lf line\n" * 12, b"." + b"l" * (LINE + 5) + b"\n", b"..\n", b".\n", b"\n.", b"\n..\n",
    (b"mixed\n" + line(LINE // 2)) * 5,
]  # fmt: skip
fragment = st.one_of(
    st.sampled_from(SPECIAL),
    st.binary(max_size=50),
    st.text("ab.\r\n", max_size=24).map(str.encode),
)
body = st.lists(fragment, max_size=24).map(b"".join)
cuts = st.lists(st.integers(min_value=0, max_value=4000), max_size=16)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=body, cuts=cuts, drop=st.booleans())
def test_same_replies_and_bytes_as_aiosmtpd(body: bytes, cuts: list[int], drop: bool) -> None:
    first = (b"\r\n" + body).find(END)  # where aiosmtpd's data ends, in `body`: first + 3
    if drop:  # the connection goes away before the end of data: cut just before it
        stream = body if first < 0 else body[: first + 2]
    elif first >= 0:  # QUIT pipelined right after the terminator (more: tested below)
        stream = body[: first + 3] + b"QUIT\r\n"
    else:
        stream = body + (b".\r\n" if (b"\r\n" + body).endswith(b"\r\n") else END) + b"QUIT\r\n"
    fast, ref = asyncio.run(both(split(stream, cuts), drop=drop))
    assert fast == ref
    if drop:
        assert fast[0].endswith(b"354 End data with <CR><LF>.<CR><LF>\r\n") and fast[1] == []
