"""The return-path SMTP listener: accept bounces for our domains, spool them, answer 250.

`handle_DATA` only makes the message durable (`store.spool`, a committed write) and wakes the
processor; parsing never runs here, so a slow or hostile message cannot stall the session
and nothing is acknowledged before it is on disk.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from bounced.clock import Clock
from bounced.config.smtp import SmtpConfig, is_loopback_host
from bounced.errors import ConfigError
from bounced.intake.incidents import SpoolIncidents
from bounced.intake.limits import ConnectionCounts, LocalCounts
from bounced.intake.protocol import BounceSMTP
from bounced.intake.replies import ReplyTally
from bounced.logfmt import kv

if TYPE_CHECKING:  # not at run time: the acceptor processes do not load the store package
    from bounced.store.base import IntakeSpool

__all__ = [
    "LISTEN_BACKLOG",
    "BounceHandler",
    "Listener",
    "domain_accepted",
    "make_tls_context",
    "message_bytes",
]

log = logging.getLogger(__name__)

LISTEN_BACKLOG = 1024  # connections the kernel queues for accept()


def domain_accepted(address: str, domains: tuple[str, ...]) -> bool:
    """Is `address` in one of `domains` ("example.com", or "*.example.com" for subdomains)?
    An empty tuple accepts every domain (the loopback-only development mode)."""
    if not domains:
        return True
    domain = address.rpartition("@")[2].strip().lower().rstrip(".")
    for accepted in domains:
        if accepted.startswith("*."):
            if domain.endswith(accepted[1:]):
                return True
        elif domain == accepted:
            return True
    return False


def _peer_text(peer: Any) -> str:
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer or "")


def _reverse_path(mail_from: str | None) -> str:
    """The null reverse-path of a bounce (MAIL FROM:<>) is stored as ""."""
    text = (mail_from or "").strip()
    return "" if text == "<>" else text.strip("<>")


class BounceHandler:
    """aiosmtpd handler hooks. Reads its settings through `settings()` so a reload applies
    to the next command without touching open connections."""

    def __init__(
        self,
        store: IntakeSpool,
        clock: Clock,
        settings: Callable[[], SmtpConfig],
        on_spooled: Callable[[int], None],
        incidents: SpoolIncidents | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.settings = settings
        self.on_spooled = on_spooled
        self.incidents = incidents or SpoolIncidents()
        self.in_flight = 0  # DATA handlers between end-of-data and their reply
        self._idle = asyncio.Event()
        self._idle.set()

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        """Advertise RFC 2920 PIPELINING: aiosmtpd answers commands in order and the DATA
        reader consumes nothing past the end of data, which is all a pipelining server needs."""
        session.host_name = hostname  # aiosmtpd leaves this to a handler with this hook
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        cfg = self.settings()
        if len(envelope.rcpt_tos) >= cfg.max_recipients:
            return "452 4.5.3 Too many recipients"
        # RFC 5321 4.5.1: a bare "postmaster" must be accepted.
        bare_postmaster = "@" not in address and address.lower() == "postmaster"
        if not bare_postmaster and (
            "@" not in address or not domain_accepted(address, cfg.normalised_domains)
        ):
            log.info("rcpt refused", extra=kv(peer=_peer_text(session.peer), rcpt=address))
            return "550 5.7.1 Relaying denied: not a bounce domain of this host"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = message_bytes(envelope)
        self.in_flight += 1
        self._idle.clear()
        try:
            intake_id = await self.store.spool(
                raw,
                _reverse_path(envelope.mail_from),
                tuple(envelope.rcpt_tos),
                _peer_text(session.peer),
                self.clock.now(),
            )
        except Exception as exc:
            # Whatever went wrong, the message is not durable: the sender must keep it and retry.
            return self.incidents.refused_one(exc, _peer_text(session.peer), len(raw))
        finally:
            self.in_flight -= 1
            if not self.in_flight:
                self._idle.set()
        self.incidents.stored_one()
        self.on_spooled(intake_id)
        log.debug("spooled", extra=kv(intake_id=intake_id, peer=_peer_text(session.peer), size=len(raw)))
        return f"250 2.0.0 OK queued as {intake_id}"

    async def wait_idle(self) -> None:
        await self._idle.wait()


def message_bytes(envelope: Envelope) -> bytes:
    """The message exactly as received (aiosmtpd keeps it in `original_content`)."""
    raw = envelope.original_content
    if raw is None:
        raw = envelope.content if isinstance(envelope.content, bytes) else b""
    return bytes(raw)


def make_tls_context(cfg: SmtpConfig) -> ssl.SSLContext | None:
    if not cfg.tls_cert or not cfg.tls_key:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cfg.tls_cert, cfg.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError("smtp.tls_cert", f"expected a readable PEM certificate and key: {exc}") from None
    return context


class Listener:
    """Runs the SMTP server on the caller's event loop, so handler and store share one loop."""

    def __init__(
        self,
        handler: BounceHandler,
        settings: Callable[[], SmtpConfig],
        counts: ConnectionCounts | None = None,
    ) -> None:
        self.handler = handler
        self.settings = settings
        self.connections: set[BounceSMTP] = set()
        self.replies = ReplyTally()  # for /metrics
        # Shared with the other acceptors (`bounced.intake.limits`), or this process's own.
        self.counts: ConnectionCounts = counts if counts is not None else LocalCounts()
        self._server: asyncio.Server | None = None

    async def start(self, sock: socket.socket | None = None) -> None:
        """Listen on `smtp.listen`, or on `sock`, a listening socket bound by the daemon."""
        cfg = self.settings()
        host, port = cfg.host_port
        if not cfg.domains and not is_loopback_host(host):
            raise ConfigError(
                "smtp.domains", f"an empty list is allowed only on loopback, not {cfg.listen!r}"
            )
        tls_context = make_tls_context(cfg)
        loop = asyncio.get_running_loop()
        # getfqdn() may ask DNS: once, off the loop, not per connection as aiosmtpd would.
        fqdn = await asyncio.to_thread(socket.getfqdn)
        template: BounceSMTP | None = None
        built_for: SmtpConfig | None = None

        def factory() -> BounceSMTP:
            nonlocal template, built_for
            current = self.settings()
            if template is None or current is not built_for:  # first connection, or reloaded
                template = BounceSMTP(
                    self.handler,
                    self,
                    data_size_limit=current.max_message_size,
                    hostname=current.hostname or fqdn,
                    ident="bounced",
                    tls_context=tls_context,
                    require_starttls=False,
                    # RFC 6531: a bounce about an internationalised address may come with
                    # SMTPUTF8 (RFC 6533); the bytes are stored as received either way.
                    enable_SMTPUTF8=True,
                    timeout=current.idle_timeout,
                    loop=loop,
                )
                built_for = current
            return template.clone()

        # create_server calls listen() again, with 100 unless told: a burst of connections
        # past that overflows the accept queue and clients wait seconds for SYN-ACK retries.
        if sock is not None:
            self._server = await loop.create_server(factory, sock=sock, backlog=LISTEN_BACKLOG)
        else:
            self._server = await loop.create_server(
                factory, host=host, port=port, reuse_address=True, backlog=LISTEN_BACKLOG
            )

    @property
    def port(self) -> int:
        assert self._server is not None and self._server.sockets
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self, grace: float) -> None:
        """Stop accepting, let messages being spooled get their reply, then hang up on the rest
        (a client cut off mid-DATA got no 250 and will retry: nothing is lost)."""
        if self._server is None:
            return
        self._server.close()
        try:
            await asyncio.wait_for(self.handler.wait_idle(), timeout=grace)
        except TimeoutError:
            log.warning("stop: spooling still in progress after grace period")
        for conn in list(self.connections):
            conn.close_now(b"421 4.3.2 Service shutting down\r\n")
        # Let the protocols see connection_lost before the loop goes away.
        await asyncio.sleep(0)
        self._server = None
