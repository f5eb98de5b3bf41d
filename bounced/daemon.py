"""The composition root: store, processor, listener and (optionally) the sending side.

Everything runs on one asyncio loop: the SMTP server is created with `loop.create_server`
rather than aiosmtpd's threaded Controller, so the handler, the processor and the store share
a loop and no lock is needed between them.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar

from bounced import __version__
from bounced.clock import Clock, SystemClock
from bounced.config import Config, load_config
from bounced.config.loader import check
from bounced.errors import ConfigError
from bounced.intake.acceptor_pool import AcceptorPool
from bounced.intake.listener import BounceHandler, Listener
from bounced.logfmt import kv, set_level
from bounced.processor import Processor
from bounced.retention import RetentionTask
from bounced.sdnotify import Notifier
from bounced.store.base import Store
from bounced.store.lockfile import DaemonLock
from bounced.store.node import NodeStore

if TYPE_CHECKING:  # the optional parts are imported when configured
    from prometheus_client.registry import Collector
    from starlette.routing import BaseRoute

    from bounced.apply.enforce import GuardTrip
    from bounced.config.smtp import SmtpConfig
    from bounced.http.server import HttpServer
    from bounced.submission.service import SendingSide
    from bounced.webhooks.dispatcher import WebhookDispatcher

__all__ = ["Daemon", "serve"]

log = logging.getLogger(__name__)


class Daemon:
    def __init__(self, config: Config, clock: Clock | None = None, notifier: Notifier | None = None) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.notifier = notifier or Notifier()
        self._store: Store | None = None
        self._processor: Processor | None = None
        self._listener: Listener | AcceptorPool | None = None
        self._sending: SendingSide | None = None
        self._retention: RetentionTask | None = None
        self._http: HttpServer | None = None  # with [http] enabled
        # Parts wired at composition add to these before start (e.g. the webhook outbox's
        # prometheus-client Collector and its /api/v1/hooks Starlette routes).
        self.http_collectors: list[Collector] = []
        self.http_routes: list[BaseRoute] = []
        self._lock: DaemonLock | None = None  # held from start to stop
        from bounced.apply.enforce import PolicyAlerts

        # One for the processor and the resend queue: guard trips counted (and alerted) once.
        self.policy_alerts = PolicyAlerts()
        self.policy_alerts.on_guard_tripped.append(self._on_guard_tripped)
        self._part_collectors_added = False
        self._webhooks: WebhookDispatcher | None = None
        self._reload_lock = asyncio.Lock()
        self.failed = asyncio.Event()  # a part gave up: serve() stops and exits 1

    # --- parts, for callers and tests ----------------------------------------------

    @property
    def store(self) -> Store:
        assert self._store is not None, "daemon not started"
        return self._store

    @property
    def processor(self) -> Processor:
        assert self._processor is not None, "daemon not started"
        return self._processor

    @property
    def smtp_port(self) -> int:
        assert self._listener is not None, "daemon not started"
        return self._listener.port

    @property
    def webhooks(self) -> WebhookDispatcher | None:
        """The outbox dispatcher (its `stats` for metrics), None when no hook or broker is
        configured."""
        return self._webhooks

    @property
    def sending_side(self) -> SendingSide | None:
        return self._sending

    @property
    def submission_port(self) -> int | None:
        if self._sending is None:
            return None
        return self._sending.submission_port

    # --- lifecycle -----------------------------------------------------------------

    async def start(self) -> None:
        """Open the store, apply what a previous run left pending, start listening.
        Raises ConfigError or OSError (port in use, permission) after undoing what started."""
        from bounced.store import open_backend

        self._lock = DaemonLock(self.config.storage.path)
        self._lock.acquire()  # StoreError: another daemon has this database
        try:
            self._store = await open_backend(self.config.storage, self.config.policy.fold_local_case)
        except BaseException:
            self._lock.release()
            raise
        try:
            self._retention = RetentionTask(self._store, self.config.storage, self.clock)
            self._retention.start()
            self._store.enable_webhook_outbox(bool(self.config.event_sinks))
            if self.config.event_sinks:  # [[webhooks]] and [[brokers]]: one outbox, one dispatcher
                from bounced.webhooks.dispatcher import WebhookDispatcher
                from bounced.webhooks.sink import build_sinks

                sinks = build_sinks(self.config, self.clock)
                delivery = self.config.webhook_delivery
                self._webhooks = WebhookDispatcher(self._store, sinks, delivery, self.clock)
                await self._webhooks.start()
            if self.config.submission.enabled:
                from bounced.submission.service import SendingSide  # only when it is wanted

                self._sending = await SendingSide.start(self.config, self._store, self.clock)
                self._sending.queue.alerts = self.policy_alerts
            from bounced.apply.attribution import ReturnPathAttributor

            attributor = ReturnPathAttributor(self._store, lambda: self.config)
            warn_about_unsigned_bounces(self.config)
            self._processor = Processor(self._store, self.config, self.clock, attributor)
            self._processor.policy_alerts = self.policy_alerts
            if self._webhooks is not None:
                self._processor.on_applied = self._webhooks.wake
            await self._processor.start()
            if self.config.smtp.acceptors:
                self._listener = AcceptorPool(
                    self.config.smtp.acceptors, self._smtp_settings, self._log_level,
                    self._store, self.clock, self._processor.wake, self._fail,
                )  # fmt: skip
            else:
                handler = BounceHandler(self._store, self.clock, self._smtp_settings, self._processor.wake)
                self._listener = Listener(handler, self._smtp_settings)
            await self._listener.start()
            if self.config.http.enabled:
                await self._start_http()
        except BaseException:
            await self._shutdown_parts()
            raise
        host, _ = self.config.smtp.host_port
        status = f"listening on {host}:{self.smtp_port}"
        loop = type(asyncio.get_running_loop()).__module__.partition(".")[0]  # uvloop or asyncio
        log.info(
            "started",
            extra=kv(
                version=__version__,
                listen=f"{host}:{self.smtp_port}",
                db=self.config.storage.path,
                backend=self.config.storage.backend,
                acceptors=self.config.smtp.acceptors,
                loop=loop,
            ),
        )
        self.notifier.ready(status)

    async def stop(self) -> None:
        """Stop accepting, let in-flight spools answer, finish the intake being applied (and
        stop the analyser's worker processes), stop the sending side, close the store.
        Pending intake stays for the next start."""
        self.notifier.stopping("stopping")
        log.info("stopping")
        await self._shutdown_parts()
        log.info("stopped")

    def _on_guard_tripped(self, trip: GuardTrip) -> None:
        """The trip's `guard_tripped` outbox row is committed with it: send it now."""
        if self._webhooks is not None:
            self._webhooks.wake()

    @property
    def http_port(self) -> int | None:
        return None if self._http is None else int(self._http.port)

    async def _start_http(self) -> None:
        from bounced.http.context import ApiContext  # only when it is wanted
        from bounced.http.part_metrics import PolicyCollector, WebhookCollector
        from bounced.http.server import HttpServer

        if not self._part_collectors_added:  # once per Daemon: names must be unique per registry
            self._part_collectors_added = True
            webhook_stats = lambda: None if self._webhooks is None else self._webhooks.stats  # noqa: E731
            self.http_collectors.append(WebhookCollector(webhook_stats))
            self.http_collectors.append(PolicyCollector(self.policy_alerts))
        listener = self._listener
        ctx = ApiContext(
            store=self.store,
            clock=self.clock,
            settings=lambda: self.config.http,
            version=__version__,  # the one `bounced --version` prints
            listener_up=lambda: listener is not None and self._listener is listener,
            replies=lambda: None if self._listener is None else self._listener.replies,
            extra_collectors=self.http_collectors,
            extra_routes=self.http_routes,
            config=lambda: self.config,
            central=self._store.central_status if isinstance(self._store, NodeStore) else None,
        )
        self._http = HttpServer(ctx)
        await self._http.start()

    async def _shutdown_parts(self) -> None:
        if self._http is not None:
            await self._http.stop()
            self._http = None
        if self._retention is not None:
            await self._retention.stop()
            self._retention = None
        if self._listener is not None:
            await self._listener.stop(self.config.smtp.shutdown_grace)
            self._listener = None
        if self._processor is not None:
            await self._processor.stop()
        if self._sending is not None:
            await self._sending.stop()
            self._sending = None
        if self._webhooks is not None:
            await self._webhooks.stop()
            self._webhooks = None
        if self._store is not None:
            await self._store.close()
            self._store = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    async def reload(self) -> bool:
        """Re-read the config file; keep the old config when the new one is bad.
        Open connections are untouched; new settings apply to the next command/bounce."""
        async with self._reload_lock:
            self.notifier.reloading()
            try:
                return await self._reload()
            finally:
                self.notifier.ready(f"listening on port {self.smtp_port}" if self._listener else None)

    async def _reload(self) -> bool:
        source = self.config.source
        if source is None:
            log.info("reload: running on built-in defaults, nothing to re-read")
            return False
        try:
            new = await asyncio.to_thread(load_config, source)
        except ConfigError as exc:
            log.error("reload refused: bad config, keeping the old one", extra=kv(error=str(exc)))
            return False
        try:
            new = self._keep_restart_only_settings(new)
            if self._sending is not None:
                await self._sending.reload(new)
        except ConfigError as exc:
            log.error("reload refused: bad config, keeping the old one", extra=kv(error=str(exc)))
            return False
        if new.log.level != self.config.log.level:
            set_level(new.log.level)
        self.config = new
        if self._processor is not None:
            self._processor.update_config(new)
        if self._retention is not None:
            self._retention.update_config(new.storage)
        if isinstance(self._listener, AcceptorPool):
            await self._listener.reload()
        log.info("reloaded", extra=kv(source=source))
        return True

    def _keep_restart_only_settings(self, new: Config) -> Config:
        """Settings bound at start (sockets, database, TLS context) keep their running values;
        the result is re-validated, e.g. an empty domain list on a public listener."""
        old = self.config
        for section in ("submission", "processing", "webhooks", "webhook_delivery", "brokers"):
            if getattr(new, section) != getattr(old, section):
                log.warning("reload: restart to apply this section", extra=kv(section=section))
        storage = _keep_bound("storage", new.storage, old.storage, ("path", "busy_timeout"))
        http = _keep_bound("http", new.http, old.http, ("enabled", "listen", "tls_cert", "tls_key"))
        smtp = _keep_bound("smtp", new.smtp, old.smtp, ("listen", "tls_cert", "tls_key", "acceptors"))
        check(smtp, "smtp")
        return replace(
            new, smtp=smtp, storage=storage, http=http, submission=old.submission, processing=old.processing,
            webhooks=old.webhooks, webhook_delivery=old.webhook_delivery, brokers=old.brokers,
        )  # fmt: skip

    def _fail(self, reason: str) -> None:
        log.critical("giving up", extra=kv(reason=reason))
        self.failed.set()

    def _smtp_settings(self) -> SmtpConfig:
        return self.config.smtp

    def _log_level(self) -> str:
        return self.config.log.level


def warn_about_unsigned_bounces(config: Config) -> None:
    """While no key is configured, unsigned bounces suppress (so a new install works): say
    what that risks and how to stop it."""
    verp = config.verp
    if verp.unsigned_policy == "suppress":
        fix = (
            "set [verp.keys] and sign return paths (docs/signing.md); unsigned bounces then only record"
            if verp.unsigned_bounces == "auto"
            else 'set [verp] unsigned_bounces = "auto" or "record"'
        )
        log.warning(
            "unsigned bounces suppress: anyone who can mail this host can suppress any address",
            extra=kv(
                event="unsigned_bounces_suppress",
                setting=f"verp.unsigned_bounces={verp.unsigned_bounces}",
                fix=fix,
            ),
        )


_Section = TypeVar("_Section")


def _keep_bound(name: str, new: _Section, old: _Section, keys: tuple[str, ...]) -> _Section:
    """`new` with the running values of `keys`, which are bound at start; warns when they changed."""
    if any(getattr(new, k) != getattr(old, k) for k in keys):
        log.warning(
            "reload: keys changed, take effect after a restart", extra=kv(keys=f"{name}.{'/'.join(keys)}")
        )
    # `_Section` is any config section dataclass; a TypeVar cannot say "a dataclass".
    return replace(new, **{k: getattr(old, k) for k in keys})  # type: ignore[type-var]  # see above


async def serve(config: Config, clock: Clock | None = None, notifier: Notifier | None = None) -> int:
    """Run until SIGTERM/SIGINT (graceful stop, returns 0) or until a part gives up (stops
    the same way, returns 1 so systemd's Restart=on-failure starts it anew); SIGHUP reloads."""
    daemon = Daemon(config, clock, notifier)
    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    reloads: set[asyncio.Task[bool]] = set()

    def on_hup() -> None:
        task = loop.create_task(daemon.reload())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop_requested.set)
    loop.add_signal_handler(signal.SIGHUP, on_hup)
    started = False
    try:
        await daemon.start()
        started = True
        waits = [asyncio.create_task(stop_requested.wait()), asyncio.create_task(daemon.failed.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        if reloads:
            await asyncio.gather(*reloads, return_exceptions=True)
        if started:
            await daemon.stop()
    return 1 if daemon.failed.is_set() else 0
