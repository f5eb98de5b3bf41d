"""Delivery to the next hop (`[relay]`) with aiosmtplib: one envelope per recipient.

Each envelope carries its own VERP return path and leaves from the delivery's sending IP
(`source_address=(ip, 0)`). Connections are kept per sending IP and reused (RSET between
envelopes), up to `relay.max_connections` each. The next hop's answer is data, not an
exception: `SendOutcome` says accepted, or gives the reply (code, enhanced status, text)
or the network error, which the queue turns into a `Failure` for the classifier.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
from dataclasses import dataclass, field

import aiosmtplib

from bounced.config.sending import RelayConfig
from bounced.errors import ConfigError
from bounced.logfmt import kv
from bounced.model import Action, Failure

__all__ = ["Envelope", "RelaySender", "SendOutcome", "parse_reply"]

log = logging.getLogger(__name__)

_STATUS = re.compile(r"^\s*([245]\.\d{1,3}\.\d{1,3})\b")


@dataclass(frozen=True, slots=True)
class Envelope:
    return_path: str
    recipient: str
    raw: bytes
    sending_ip: str | None = None


@dataclass(frozen=True, slots=True)
class SendOutcome:
    accepted: bool
    stage: str  # "connect", "mail", "rcpt", "data" or "done"
    reply_code: int | None = None
    status: str | None = None  # enhanced status from the reply text
    text: str = ""  # the reply as received, or the network error
    remote: str = ""  # host:port of the next hop

    @property
    def network_error(self) -> bool:
        return not self.accepted and self.reply_code is None

    @property
    def diagnostic(self) -> str:
        if self.reply_code is None:
            return self.text
        return f"{self.reply_code} {self.text}".strip()

    def as_failure(self, recipient: str) -> Failure:
        """The next hop's refusal as a bounce failure (network errors: 4.4.1, soft)."""
        return Failure(
            recipient=recipient,
            # This attempt failed, even on a 4xx: a resend is our decision, not the next hop's
            # (Action "delayed" is reserved for delay notices, which never trigger one).
            action=Action.FAILED,
            status=self.status or ("4.4.1" if self.reply_code is None else None),
            reply_code=self.reply_code,
            diagnostic=self.diagnostic,
            remote_mta=self.remote,
        )


def parse_reply(code: int, message: str) -> tuple[str | None, str]:
    """Enhanced status code (RFC 3463) at the start of the reply text, and the text unfolded."""
    text = " ".join(message.split())
    match = _STATUS.match(text)
    return (match.group(1) if match else None), text


@dataclass
class _Pool:
    idle: list[aiosmtplib.SMTP] = field(default_factory=list)
    slots: asyncio.Semaphore | None = None


class RelaySender:
    """Sends envelopes to `[relay]`; safe to call concurrently."""

    def __init__(self, relay: RelayConfig, local_hostname: str | None = None) -> None:
        self.relay = relay
        self.local_hostname = local_hostname or relay.helo or None
        self._pools: dict[str | None, _Pool] = {}
        self._tls: ssl.SSLContext | None = None
        self._closed = False

    def update(self, relay: RelayConfig) -> None:
        """New relay settings apply to new connections; idle ones are dropped."""
        if relay != self.relay:
            self.relay = relay
            self._tls = None
            old, self._pools = self._pools, {}
            for pool in old.values():
                for client in pool.idle:
                    client.close()

    @property
    def remote(self) -> str:
        return f"{self.relay.host}:{self.relay.port}"

    def _pool(self, ip: str | None) -> _Pool:
        pool = self._pools.get(ip)
        if pool is None:
            pool = _Pool(slots=asyncio.Semaphore(self.relay.max_connections))
            self._pools[ip] = pool
        return pool

    def prepare(self) -> None:
        """Fail at start, with the key named, on settings that would fail every send."""
        if self.relay.starttls:
            self._tls_context()

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            try:
                self._tls = ssl.create_default_context(cafile=self.relay.ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError("relay.ca_file", f"expected a readable PEM CA bundle: {exc}") from None
        return self._tls

    async def _connect(self, ip: str | None) -> aiosmtplib.SMTP:
        relay = self.relay
        client = aiosmtplib.SMTP(
            hostname=relay.host,
            port=relay.port,
            local_hostname=self.local_hostname,
            source_address=(ip, 0) if ip else None,
            timeout=relay.timeout,
            start_tls=relay.starttls,
            tls_context=self._tls_context() if relay.starttls else None,
        )
        await client.connect()
        if relay.username is not None and relay.password is not None:
            try:
                if not client.last_ehlo_response:
                    await client.ehlo()
                # PLAIN when offered, else LOGIN: a refusal is then one clear 535, not a retry
                # of every mechanism. It counts as a network error (soft): our setup, not theirs.
                if "plain" in client.server_auth_methods or not client.server_auth_methods:
                    await client.auth_plain(relay.username, relay.password, timeout=relay.timeout)
                else:
                    await client.auth_login(relay.username, relay.password, timeout=relay.timeout)
            except BaseException:
                client.close()
                raise
        return client

    async def send(self, envelope: Envelope) -> SendOutcome:
        pool = self._pool(envelope.sending_ip)
        assert pool.slots is not None
        async with pool.slots:
            reused = False
            client: aiosmtplib.SMTP | None = None
            while pool.idle and client is None:
                candidate = pool.idle.pop()
                if candidate.is_connected:
                    client, reused = candidate, True
            try:
                if client is None:
                    client = await self._connect(envelope.sending_ip)
                outcome = await self._transaction(client, envelope)
                if reused and outcome.reply_code == 421 and outcome.stage == "mail":
                    # The relay timed out an idle connection ("421 4.4.2 timeout exceeded"):
                    # about the connection, not the recipient. One fresh try.
                    client.close()
                    return await self._send_fresh(envelope)
            except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPConnectError) as exc:
                if client is not None:
                    client.close()
                if reused:  # the relay closed an idle connection: one fresh try
                    return await self._send_fresh(envelope)
                return self._network_error("connect" if client is None else "mail", exc)
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                if client is not None:
                    client.close()
                return self._network_error("connect" if client is None else "data", exc)
            if client.is_connected and not self._closed:
                pool.idle.append(client)
            else:
                client.close()
            return outcome

    async def _send_fresh(self, envelope: Envelope) -> SendOutcome:
        client: aiosmtplib.SMTP | None = None
        try:
            client = await self._connect(envelope.sending_ip)
            outcome = await self._transaction(client, envelope)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            if client is not None:
                client.close()
            return self._network_error("connect" if client is None else "data", exc)
        pool = self._pool(envelope.sending_ip)
        if client.is_connected and not self._closed:
            pool.idle.append(client)
        else:
            client.close()
        return outcome

    async def _transaction(self, client: aiosmtplib.SMTP, envelope: Envelope) -> SendOutcome:
        """MAIL, RCPT, DATA; a refusal at any stage is an outcome, after which RSET keeps
        the connection usable."""
        stage = "mail"
        try:
            # One deadline for the whole transaction instead of one per command: aiosmtplib
            # wraps each timed command in a task, which costs more than the exchange itself.
            async with asyncio.timeout(self.relay.timeout):
                await client.mail(envelope.return_path, timeout=None)
                stage = "rcpt"
                await client.rcpt(envelope.recipient, timeout=None)
                stage = "data"
                await client.data(envelope.raw, timeout=None)
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code == 421:  # the server is closing the connection
                client.close()
            else:
                try:
                    await client.rset()
                except (aiosmtplib.SMTPException, OSError, TimeoutError):
                    client.close()
            status, text = parse_reply(exc.code, exc.message)
            log.info(
                "relay refused",
                extra=kv(rcpt=envelope.recipient, stage=stage, code=exc.code, status=status or "", text=text),
            )
            return SendOutcome(False, stage, exc.code, status, text, self.remote)
        return SendOutcome(True, "done", 250, None, "", self.remote)

    def _network_error(self, stage: str, exc: BaseException) -> SendOutcome:
        text = f"{self.remote}: {type(exc).__name__}: {exc}".strip()
        log.warning("relay unreachable", extra=kv(stage=stage, error=text))
        return SendOutcome(False, stage, None, None, text, self.remote)

    async def close(self) -> None:
        self._closed = True
        for pool in self._pools.values():
            while pool.idle:
                client = pool.idle.pop()
                try:
                    await asyncio.wait_for(client.quit(), timeout=2)
                except (aiosmtplib.SMTPException, OSError, TimeoutError):
                    client.close()
        self._pools = {}
