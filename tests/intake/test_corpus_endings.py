"""Issue 9's first "done when": every message of the shared corpus, sent over a real
connection with LF, CRLF and mixed line endings, gets 250, long lines included, and parses
the same whatever the endings. LF and CRLF are stored as the same bytes (one dedup hash).
Mixed endings may keep one more trailing empty line: `X<LF><CRLF>` at the end of mixed data
is a line and an empty line, as received, since whether the client added the CRLF or
meant it cannot be told (`bounced.intake.data`).

One session per ending, all three at once, each sending every message (MAIL, RCPT and DATA
pipelined, as RFC 2920 allows), to a daemon with two acceptor processes. A client that
sends bare LF does what smtplib does with a file's bytes: dot-stuffs after every LF and adds
the CRLF the data must end with."""

from __future__ import annotations

import asyncio
import hashlib
import re
from pathlib import Path

import pytest

from benchmarks._corpus import messages_in
from bounced.parse import parse_message
from tests.harness import make_config, running_daemon
from tests.intake.running import intake_column

pytestmark = [pytest.mark.corpus, pytest.mark.slow]
ENDINGS = ("lf", "crlf", "mixed")


def encode(raw: bytes, ending: str) -> bytes:
    """`raw` as a client with `ending` line ends puts it after DATA, up to and with the end."""
    lines = raw.replace(b"\r\n", b"\n").split(b"\n")
    if ending == "mixed":
        ends = [b"\n" if i % 2 else b"\r\n" for i in range(len(lines) - 1)]
        data = b"".join(line + end for line, end in zip(lines, ends, strict=False)) + lines[-1]
    else:
        data = (b"\n" if ending == "lf" else b"\r\n").join(lines)
    data = re.sub(rb"(?m)^\.", b"..", data)
    return data + (b"" if data.endswith(b"\r\n") else b"\r\n") + b".\r\n"


async def send_all(port: int, messages: list[bytes]) -> list[bytes]:
    """One session; the final reply to each message."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def reply() -> bytes:
        while (line := await asyncio.wait_for(reader.readline(), 30))[3:4] == b"-":
            pass
        return line

    finals = []
    try:
        await reply()
        writer.write(b"EHLO corpus.test\r\n")
        assert b"PIPELINING" in (await reader.readuntil(b"250 HELP\r\n"))
        for data in messages:
            writer.write(b"MAIL FROM:<>\r\nRCPT TO:<b@bounces.example.com>\r\nDATA\r\n")
            codes = [await reply() for _ in range(3)]
            assert [c[:3] for c in codes] == [b"250", b"250", b"354"], codes
            writer.write(data)
            finals.append(await reply())
        writer.write(b"QUIT\r\n")
        await reply()
    finally:
        writer.close()
    return finals


async def test_every_corpus_message_with_lf_crlf_and_mixed_endings(corpus: Path, tmp_path: Path) -> None:
    messages = [raw for path in sorted((corpus / "emails").glob("*.eml")) for raw in messages_in(path)]
    assert len(messages) >= 300
    config = make_config(
        tmp_path, smtp={"domains": ["bounces.example.com"], "acceptors": 2}, processing={"workers": 0}
    )
    async with running_daemon(config) as d:
        finals = await asyncio.gather(
            *(send_all(d.smtp_port, [encode(raw, ending) for raw in messages]) for ending in ENDINGS)
        )
    refused = [(e, i, f) for e, per in zip(ENDINGS, finals, strict=True) for i, f in enumerate(per)
               if not f.startswith(b"250 2.0.0 OK queued as ")]  # fmt: skip
    assert refused == []
    ids = [[int(f.rsplit(b" ", 1)[1]) for f in per] for per in finals]
    path = config.storage.path
    raw_of = dict(zip(intake_column(path, "id"), map(bytes, intake_column(path, "raw")), strict=True))
    for index, original in enumerate(messages):
        lf, crlf, mixed = (raw_of[per[index]] for per in ids)
        assert hashlib.sha256(lf).digest() == hashlib.sha256(crlf).digest(), index
        assert mixed in (crlf, crlf + b"\r\n"), index
        canonical = original.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        assert crlf in (canonical, canonical + b"\r\n"), index  # + the CRLF a client adds
        if mixed != lf:  # equal bytes parse equally (parse_message is pure)
            assert parse_message(lf) == parse_message(mixed), index
