"""The sending side as one part the daemon starts: submission listener, relay sender, resend
queue and its scheduler."""

from __future__ import annotations

import logging
from datetime import datetime

from bounced.clock import Clock
from bounced.config import Config
from bounced.errors import ConfigError
from bounced.intake.listener import domain_accepted
from bounced.outbound.queue import ResendQueue
from bounced.outbound.scheduler import QueueScheduler
from bounced.outbound.sender import RelaySender
from bounced.store.base import SenderStore
from bounced.submission.listener import SubmissionHandler, SubmissionListener

__all__ = ["SendingSide", "check_sending_config"]

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


class SendingSide:
    def __init__(self, config: Config, store: SenderStore, clock: Clock) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.sender = RelaySender(config.relay)
        self.queue = ResendQueue(store, config, clock, self.sender, on_scheduled=self._on_scheduled)
        self.scheduler = QueueScheduler(self.queue, config.resend.poll_interval, clock)
        self.handler = SubmissionHandler(store, clock, lambda: self.config, self.scheduler.wake)
        self.listener = SubmissionListener(self.handler, config)

    @classmethod
    async def start(cls, config: Config, store: SenderStore, clock: Clock) -> SendingSide:
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
