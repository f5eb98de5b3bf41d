"""What the HTTP app needs from the daemon, passed in (no globals): the store, the clock, the
[http] settings (read at each request, so a reload applies), and probes for /readyz."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bounced.clock import Clock
from bounced.config.http import HttpConfig
from bounced.intake.replies import ReplyTally
from bounced.store.base import ServiceStore
from bounced.store.node import CentralStatus

__all__ = ["ApiContext"]


@dataclass
class ApiContext:
    store: ServiceStore
    clock: Clock
    settings: Callable[[], HttpConfig]
    version: str
    listener_up: Callable[[], bool] = lambda: True  # the SMTP listener accepts connections
    replies: Callable[[], ReplyTally | None] = lambda: None  # the SMTP reply counts
    # Hooks for parts wired at composition (e.g. the webhook outbox): prometheus-client
    # Collector objects added to /metrics, and Starlette routes added to the API.
    extra_collectors: list[Any] = field(default_factory=list)
    extra_routes: list[Any] = field(default_factory=list)
    config: Callable[[], Any] | None = None  # the whole Config, for explanations (profile)
    # Several nodes on one central store: probes it and reads this node's local backlog
    # (bounced.store.node.NodeStore.central_status); None on a single SQLite file.
    central: Callable[[], Awaitable[CentralStatus]] | None = None
