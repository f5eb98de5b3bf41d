"""The submission listener: where the platform hands over mail for us to send.

At RCPT a suppressed address is refused (`550 5.7.1 <addr>: suppressed (reason, since
DATE)`) and counted: as long as an address is on the list, nothing is sent to it. After
DATA the message is stored once with one delivery per recipient (sending IP chosen from
`[pools]` by the From domain) and its first attempt queued, all committed BEFORE the 250;
delivery happens in the background. AUTH PLAIN/LOGIN is offered when credentials are
configured, and only over TLS unless the listener is on loopback.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import ssl
import warnings
import zlib
from collections.abc import Callable
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from bounced.clock import Clock
from bounced.config import Config
from bounced.config.smtp import is_loopback_host
from bounced.errors import ConfigError
from bounced.intake.listener import message_bytes
from bounced.logfmt import kv
from bounced.model import address_domain, normalise_address
from bounced.store.base import SenderStore

__all__ = ["SubmissionHandler", "SubmissionListener", "choose_sending_ip", "message_facts"]

log = logging.getLogger(__name__)


def choose_sending_ip(ips: list[str], recipient: str) -> str | None:
    """A stable pick from the pool: the same recipient always leaves from the same IP."""
    if not ips:
        return None
    return ips[zlib.crc32(recipient.lower().encode()) % len(ips)]


def message_facts(raw: bytes) -> tuple[str | None, str | None, str | None]:
    """(X-Mailing-ID, From domain, Message-ID) from the headers; None where absent."""
    headers = BytesHeaderParser(policy=compat32).parsebytes(raw)

    def header(name: str) -> str | None:
        value = headers.get(name)
        return " ".join(str(value).split()) or None if value is not None else None

    from_domain = None
    from_value = header("From")
    if from_value:
        addresses = [a for _, a in getaddresses([from_value]) if "@" in a]
        if addresses:
            from_domain = address_domain(addresses[0]) or None
    return header("X-Mailing-ID"), from_domain, header("Message-ID")


class SubmissionHandler:
    def __init__(
        self, store: SenderStore, clock: Clock, config: Callable[[], Config], on_queued: Callable[[], None]
    ):
        self.store = store
        self.clock = clock
        self.config = config
        self.on_queued = on_queued
        self.in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        addr = normalise_address(address)
        if "@" not in addr or not addr.partition("@")[0]:
            return "553 5.1.3 Recipient address must be user@domain"
        if len(envelope.rcpt_tos) >= 1000:
            return "452 4.5.3 Too many recipients"
        try:
            entry = await self.store.get_suppression(addr)
            if entry is not None:
                await self.store.count_refusal(addr, self.clock.now())
        except Exception:
            log.exception("suppression check failed", extra=kv(rcpt=addr))
            return "451 4.3.0 Cannot check the recipient now, try again later"
        if entry is not None:
            since = entry.created_at.strftime("%Y-%m-%d")
            log.info("rcpt refused: suppressed", extra=kv(rcpt=addr, reason=entry.reason))
            return f"550 5.7.1 <{addr}>: suppressed ({entry.reason}, since {since})"
        envelope.rcpt_tos.append(addr)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = message_bytes(envelope)
        cfg = self.config()
        mailing_id, from_domain, message_id = message_facts(raw)
        ips = cfg.pools.ips_for(from_domain)
        recipients = [(r, choose_sending_ip(ips, r)) for r in envelope.rcpt_tos]
        self.in_flight += 1
        self._idle.clear()
        try:
            outbound_id, delivery_ids = await self.store.record_outbound(
                raw,
                envelope.mail_from or "",
                recipients,
                self.clock.now(),
                mailing_id=mailing_id,
                from_domain=from_domain,
                message_id=message_id,
            )
        except Exception:
            # Not durable: the client keeps the message and retries.
            log.exception("submission not stored", extra=kv(size=len(raw), rcpts=len(recipients)))
            return "451 4.3.0 Message not stored, try again later"
        finally:
            self.in_flight -= 1
            if not self.in_flight:
                self._idle.set()
        self.on_queued()
        log.info(
            "submitted",
            extra=kv(message=outbound_id, deliveries=len(delivery_ids), mailing=mailing_id or "",
                     from_domain=from_domain or "", size=len(raw)),
        )  # fmt: skip
        return f"250 2.0.0 OK queued as {outbound_id}"

    async def wait_idle(self) -> None:
        await self._idle.wait()


def _make_tls_context(cert: str | None, key: str | None) -> ssl.SSLContext | None:
    if not cert or not key:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            "submission.tls_cert", f"expected a readable PEM certificate and key: {exc}"
        ) from None
    return context


class SubmissionListener:
    """An aiosmtpd server on the caller's loop (handler, queue and store share one loop)."""

    def __init__(self, handler: SubmissionHandler, config: Config) -> None:
        self.handler = handler
        self.config = config
        self._server: asyncio.Server | None = None
        self._sessions: set[SMTP] = set()

    def _authenticator(self, username: str, password: str) -> Callable[..., AuthResult]:
        want_user, want_pass = username.encode(), password.encode()

        def authenticate(
            server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
        ) -> AuthResult:
            ok = (
                isinstance(data, LoginPassword)
                and hmac.compare_digest(data.login, want_user)
                and hmac.compare_digest(data.password, want_pass)
            )
            if not ok:
                log.warning("submission auth failed", extra=kv(peer=str(session.peer), mechanism=mechanism))
            return AuthResult(success=ok, handled=False)

        return authenticate

    async def start(self) -> None:
        sub = self.config.submission
        host, port = sub.host_port
        tls_context = _make_tls_context(sub.tls_cert, sub.tls_key)
        auth: dict[str, Any] = {}
        if sub.username is not None and sub.password is not None:
            auth = {
                "authenticator": self._authenticator(sub.username, sub.password),
                "auth_required": True,
                "auth_require_tls": not is_loopback_host(host),
                "auth_exclude_mechanism": ["CRAM-MD5"],
            }
        loop = asyncio.get_running_loop()
        sessions = self._sessions

        class TrackedSMTP(SMTP):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                sessions.add(self)
                super().connection_made(transport)

            def connection_lost(self, error: Exception | None) -> None:
                sessions.discard(self)
                super().connection_lost(error)

        def factory() -> SMTP:
            with warnings.catch_warnings():
                # aiosmtpd warns about AUTH without TLS; we allow that on loopback only.
                warnings.simplefilter("ignore", UserWarning)
                return self._make_session(TrackedSMTP, tls_context, loop, auth)

        self._server = await loop.create_server(factory, host=host, port=port, reuse_address=True)
        log.info("submission listening", extra=kv(listen=f"{host}:{self.port}", auth=bool(auth)))

    def _make_session(
        self,
        cls: type[SMTP],
        tls_context: ssl.SSLContext | None,
        loop: asyncio.AbstractEventLoop,
        auth: dict[str, Any],
    ) -> SMTP:
        sub = self.config.submission
        return cls(
            self.handler,
            data_size_limit=sub.max_message_size,
            hostname=sub.hostname or None,
            ident="bounced submission",
            tls_context=tls_context,
            loop=loop,
            **auth,
        )

    @property
    def port(self) -> int:
        assert self._server is not None and self._server.sockets
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self, grace: float = 10.0) -> None:
        """Stop accepting; messages being stored get their reply; idle sessions are closed."""
        if self._server is None:
            return
        self._server.close()
        try:
            await asyncio.wait_for(self.handler.wait_idle(), timeout=grace)
        except TimeoutError:
            log.warning("submission stop: a message is still being stored")
        for session in list(self._sessions):
            transport = session.transport
            if transport is not None:
                transport.close()
        await asyncio.sleep(0)
        self._server = None
