"""The sending side as one part the daemon starts: submission listener, relay sender, resend
queue and its scheduler, and the VERP attributor the bounce pipeline asks."""

from __future__ import annotations

import logging
from datetime import datetime

from bounced.clock import Clock
from bounced.config import Config
from bounced.errors import ConfigError, VerpError
from bounced.intake.listener import domain_accepted
from bounced.logfmt import kv
from bounced.model import Attribution, IntakeMessage, ParsedMessage
from bounced.resend.queue import ResendQueue
from bounced.resend.scheduler import QueueScheduler
from bounced.resend.sender import RelaySender
from bounced.store.base import Store
from bounced.submission.listener import SubmissionHandler, SubmissionListener
from bounced.verp import parse_verp_address, verify_token

__all__ = ["SendingSide", "VerpAttributor", "check_sending_config"]

log = logging.getLogger(__name__)


def check_sending_config(config: Config) -> None:
    """Settings that only matter, and only fit together, when the sending side runs."""
    if not config.verp.secret:
        raise ConfigError("verp.secret", "expected a secret (HMAC key) when submission.enabled is true")
    # Bounces come back to our return paths: the return-path listener must accept them.
    if not domain_accepted(
        f"{config.verp.local_prefix}@{config.verp.domain}", config.smtp.normalised_domains
    ):
        raise ConfigError(
            "verp.domain",
            f"{config.verp.domain!r} is not among smtp.domains {list(config.smtp.domains)}: "
            "bounces to the return paths would be refused",
        )


class VerpAttributor:
    """Implements `bounced.apply.attribution.Attributor` from our signed return paths."""

    def __init__(self, store: Store, side: SendingSide) -> None:
        self.store = store
        self._side = side

    async def attribute(self, intake: IntakeMessage, parsed: ParsedMessage) -> Attribution | None:
        """The bounce comes back to our VERP return path: look there first (envelope
        recipients), then where MTAs copy it (Delivered-To / X-Original-To, Return-Path of
        the returned original). A token that does not verify gives None and a warning, so
        the unsigned-bounce policy applies."""
        verp = self._side.config.verp
        candidates = [*intake.rcpt_tos, *parsed.envelope_to]
        if parsed.original.return_path:
            candidates.append(parsed.original.return_path)
        seen: set[str] = set()
        for address in candidates:
            if address.lower() in seen:
                continue
            seen.add(address.lower())
            try:
                token = parse_verp_address(address, verp)
            except VerpError as exc:
                log.warning(
                    "forged or malformed VERP token", extra=kv(intake=intake.id, address=address, error=exc)
                )
                continue
            if token is None:
                continue
            delivery = await self.store.get_delivery(token.delivery_id)
            if delivery is None:
                log.warning("VERP token for an unknown delivery", extra=kv(intake=intake.id, address=address))
                continue
            try:
                verify_token(token, delivery.recipient, verp)
            except VerpError:
                log.warning(
                    "forged VERP token", extra=kv(intake=intake.id, address=address, peer=intake.peer)
                )
                continue
            message = await self.store.get_outbound(delivery.message_id)
            return Attribution(
                recipient=delivery.recipient,
                delivery_id=delivery.id,
                mailing_id=delivery.mailing_id,
                from_domain=delivery.from_domain,
                sending_ip=delivery.sending_ip,
                message_id=message.message_id if message is not None else None,
                signed=True,
            )
        return None


class SendingSide:
    def __init__(self, config: Config, store: Store, clock: Clock) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.sender = RelaySender(config.relay)
        self.queue = ResendQueue(store, config, clock, self.sender, on_scheduled=self._on_scheduled)
        self.scheduler = QueueScheduler(self.queue, config.resend.poll_interval, clock)
        self.handler = SubmissionHandler(store, clock, lambda: self.config, self.scheduler.wake)
        self.listener = SubmissionListener(self.handler, config)
        self.attributor = VerpAttributor(store, self)

    @classmethod
    async def start(cls, config: Config, store: Store, clock: Clock) -> SendingSide:
        check_sending_config(config)
        side = cls(config, store, clock)
        side.sender.prepare()
        await side.scheduler.start()
        try:
            await side.listener.start()
        except BaseException:
            await side.scheduler.stop()
            await side.sender.close()
            raise
        return side

    def _on_scheduled(self, due: datetime) -> None:
        self.scheduler.arm(due)

    @property
    def port(self) -> int:
        return self.listener.port

    @property
    def submission_port(self) -> int:
        return self.listener.port

    async def reload(self, config: Config) -> None:
        """New retry rules, relay, pools and VERP secrets apply to what happens next."""
        if not config.verp.secret:
            log.error("reload: verp.secret is empty; keeping the old [verp] section")
            config = Config(**{**config.__dict__, "verp": self.config.verp})
        self.config = config
        self.queue.update_config(config)
        self.sender.update(config.relay)
        self.scheduler.wake()

    async def run_until_idle(self, timeout: float = 10.0) -> None:
        await self.scheduler.run_until_idle(timeout)

    async def stop(self) -> None:
        await self.listener.stop()
        await self.scheduler.stop()
        await self.sender.close()
