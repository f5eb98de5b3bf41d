"""A real next-hop SMTP server for tests: aiosmtpd on a loopback port, on the test's loop.

Replies are scripted per recipient and stage ("rcpt" or "data"), consumed in order; once a
recipient's script is used up it is accepted. Everything received is recorded with the
envelope sender and the peer IP, so tests can check VERP return paths and source binding.
"""

from __future__ import annotations

import asyncio
import ssl
import warnings
from collections import defaultdict, deque
from dataclasses import dataclass, field

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.conftest import free_port

__all__ = ["NextHop", "Received"]


@dataclass(frozen=True)
class Received:
    mail_from: str
    recipient: str
    peer_ip: str
    data: bytes
    at: float  # loop time


@dataclass
class NextHop:
    host: str = "127.0.0.1"
    port: int = 0
    received: list[Received] = field(default_factory=list)
    # (recipient, stage, reply, loop time) for every RCPT and every DATA
    attempts: list[tuple[str, str, str, float]] = field(default_factory=list)
    scripts: dict[tuple[str, str], deque[str]] = field(default_factory=lambda: defaultdict(deque))
    auth: tuple[str, str] | None = None  # require AUTH PLAIN/LOGIN with these credentials
    tls: ssl.SSLContext | None = None  # offer STARTTLS (and then require it for AUTH)
    _server: asyncio.Server | None = None
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    def script(self, recipient: str, stage: str, *replies: str) -> None:
        self.scripts[(recipient.lower(), stage)].extend(replies)

    def _next_reply(self, recipient: str, stage: str) -> str | None:
        queue = self.scripts.get((recipient.lower(), stage))
        return queue.popleft() if queue else None

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self._next_reply("*", "mail")  # script("*", "mail", ...) answers the next MAILs
        if reply is not None:
            self.attempts.append(("*", "mail", reply, asyncio.get_running_loop().time()))
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self._next_reply(address, "rcpt")
        self.attempts.append((address, "rcpt", reply or "250", asyncio.get_running_loop().time()))
        if reply is not None:
            async with self._arrived:
                self._arrived.notify_all()
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        for rcpt in envelope.rcpt_tos:
            reply = self._next_reply(rcpt, "data")
            self.attempts.append((rcpt, "data", reply or "250", asyncio.get_running_loop().time()))
            if reply is not None:
                async with self._arrived:
                    self._arrived.notify_all()
                return reply
        for rcpt in envelope.rcpt_tos:
            now = asyncio.get_running_loop().time()
            self.received.append(
                Received(envelope.mail_from or "", rcpt, str(session.peer[0]), bytes(data), now)
            )
        async with self._arrived:
            self._arrived.notify_all()
        return "250 2.0.0 OK"

    async def start(self) -> NextHop:
        loop = asyncio.get_running_loop()
        self.port = self.port or free_port(self.host)
        options: dict[str, object] = {}
        if self.auth is not None:
            login, password = (x.encode() for x in self.auth)

            def check(
                server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: object
            ) -> AuthResult:
                ok = isinstance(data, LoginPassword) and (data.login, data.password) == (login, password)
                return AuthResult(success=ok, handled=False)

            options = {
                "authenticator": check,
                "auth_required": True,
                "auth_require_tls": self.tls is not None,
            }
        if self.tls is not None:
            options["tls_context"] = self.tls

        def factory() -> SMTP:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # AUTH without TLS: loopback test only
                return SMTP(self, hostname="nexthop.test", loop=loop, **options)  # type: ignore[arg-type]

        self._server = await loop.create_server(factory, host=self.host, port=self.port)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    def delivered_to(self, recipient: str) -> list[Received]:
        return [r for r in self.received if r.recipient.lower() == recipient.lower()]

    async def wait_for(self, predicate: object, timeout: float = 10.0) -> None:
        """Wait until `predicate()` is true (checked whenever something arrives)."""

        async def waiter() -> None:
            async with self._arrived:
                await self._arrived.wait_for(predicate)  # type: ignore[arg-type]

        await asyncio.wait_for(waiter(), timeout)
