"""BounceSMTP's shortcuts behave exactly like the aiosmtpd code they replace."""

from __future__ import annotations

import asyncio
import inspect

from aiosmtpd.smtp import SMTP

from bounced.config import SmtpConfig
from bounced.intake.limits import LocalCounts
from bounced.intake.protocol import BounceSMTP
from bounced.intake.replies import ReplyTally


class _Listener:
    connections: set[object] = set()
    replies = ReplyTally()
    counts = LocalCounts()

    def settings(self) -> SmtpConfig:
        return SmtpConfig()


class _Handler:
    async def handle_RCPT(self, *args: object) -> str:
        return "250 OK"

    async def handle_DATA(self, *args: object) -> str:
        return "250 OK"


def make() -> BounceSMTP:
    return BounceSMTP(_Handler(), _Listener(), hostname="mx.test", loop=asyncio.get_running_loop())  # type: ignore[arg-type]


async def test_clone_has_the_state_of_a_freshly_built_protocol() -> None:
    template = make()
    clone, fresh = template.clone(), make()
    assert set(vars(clone)) == set(vars(fresh))
    for name, method in clone._smtp_methods.items():
        assert method.__self__ is clone, name
    for name, attr in clone._auth_methods.items():
        if attr.is_builtin:
            assert attr.method.__self__ is clone, name
    assert clone._stream_reader is not template._stream_reader
    assert clone._closed is not template._closed
    assert clone.command_size_limits is not template.command_size_limits
    assert clone._handle_hooks["RCPT"].__self__ is template.event_handler


async def test_fast_address_parsing_matches_aiosmtpd() -> None:
    proto = make()
    original = inspect.getattr_static(SMTP, "_getaddr")
    cases = [
        "<>", "<> SIZE=100", "<user@example.com>", "<user@example.com> SIZE=2257 BODY=8BITMIME",
        " <b+tok.1@bounces.example.com>", "<first.last+x=y@sub.example.org>",
        '<"quoted local"@example.com>', "<user@[192.0.2.1]>", "user@example.com", "<@route:user@example.com>",
        "<broken", "", "<a@b> x",
    ]  # fmt: skip
    for arg in cases:
        assert proto._getaddr(arg) == original(proto, arg), arg


async def test_multiline_reply_goes_out_in_one_write() -> None:
    proto = make()
    writes: list[bytes] = []

    class Writer:
        def write(self, data: bytes) -> None:
            writes.append(data)

        async def drain(self) -> None:
            pass

    proto._writer = Writer()  # type: ignore[assignment]
    for line in ("250-mx.test", "250-SIZE 100", "250 HELP"):
        await proto.push(line)
    await proto.push("221 Bye")
    assert writes == [b"250-mx.test\r\n250-SIZE 100\r\n250 HELP\r\n", b"221 Bye\r\n"]
