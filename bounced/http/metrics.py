"""/metrics: Prometheus text from collectors that read the daemon's state at scrape time
(store counters kept by triggers, the intake backlog, the resend queue, the SMTP reply tally),
plus the HTTP request counters of this app. A registry per app, never the global one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bounced.intake.replies import ReplyTally
from bounced.store.base import MetricsSnapshot
from bounced.store.node import CentralStatus

__all__ = ["HttpMetrics", "StateCollector", "new_registry"]


class StateCollector(Collector):
    """Yields the last snapshot taken by `refresh` (the /metrics handler awaits it first:
    collectors are synchronous, the store is not)."""

    def __init__(self) -> None:
        self.snapshot: MetricsSnapshot | None = None
        self.now: datetime | None = None
        self.replies: ReplyTally | None = None
        self.central: CentralStatus | None = None

    def refresh(
        self,
        snapshot: MetricsSnapshot | None,
        now: datetime,
        replies: ReplyTally | None,
        central: CentralStatus | None = None,
    ) -> None:
        self.snapshot, self.now, self.replies, self.central = snapshot, now, replies, central

    def collect(self) -> Iterator[Metric]:
        yield from self._smtp()
        yield from self._central()
        s, now = self.snapshot, self.now
        if s is None or now is None:
            return
        bounces = CounterMetricFamily(
            "bounced_bounces", "Bounce events recorded, by kind and reason", labels=["kind", "reason"]
        )
        added = CounterMetricFamily(
            "bounced_suppressions_added",
            "Addresses put on the suppression list, by origin",
            labels=["origin"],
        )
        hard = CounterMetricFamily(
            "bounced_hard_bounces",
            "Hard bounces by the from-domain of the bounced message ('' when unknown)",
            labels=["from_domain"],
        )
        removed = CounterMetricFamily("bounced_suppressions_removed", "Addresses taken off the list")
        removed_n = 0
        for name, k1, k2, n in s.counters:
            if name == "bounces":
                bounces.add_metric([k1, k2], n)
            elif name == "hard_by_from_domain":
                hard.add_metric([k1], n)
            elif name == "suppressions_added":
                added.add_metric([k1], n)
            elif name == "suppressions_removed":
                removed_n += n
        removed.add_metric([], removed_n)
        yield from (bounces, hard, added, removed)
        yield GaugeMetricFamily("bounced_suppressed", "Addresses on the suppression list now", s.suppressed)
        yield GaugeMetricFamily("bounced_intake_backlog", "Spooled messages not yet applied", s.backlog)
        oldest = 0.0 if s.oldest_pending_at is None else max(0.0, (now - s.oldest_pending_at).total_seconds())
        yield GaugeMetricFamily(
            "bounced_intake_oldest_pending_age_seconds", "Age of the oldest message not yet applied", oldest
        )
        yield GaugeMetricFamily(
            "bounced_apply_lag_seconds",
            "Receipt to applied, of the latest applied message",
            s.last_apply_lag or 0.0,
        )
        yield GaugeMetricFamily("bounced_resend_queue_depth", "Resend queue rows waiting", s.queue_pending)
        late = 0.0 if s.oldest_overdue_at is None else max(0.0, (now - s.oldest_overdue_at).total_seconds())
        yield GaugeMetricFamily(
            "bounced_resend_queue_lateness_seconds", "How far past its due time the most overdue row is", late
        )

    def _central(self) -> Iterator[Metric]:
        """A node on a central store: is it reachable, and what waits in the local spool (the
        store's other figures are missing from a scrape while it is not)."""
        c = self.central
        if c is None:
            return
        yield GaugeMetricFamily(
            "bounced_central_store_up", "1 when the central store answered the last probe", int(c.up)
        )
        yield GaugeMetricFamily(
            "bounced_local_spool_backlog", "Messages in this node's local spool not yet applied", c.backlog
        )
        age = 0.0
        if c.oldest_pending_at is not None and self.now is not None:
            age = max(0.0, (self.now - c.oldest_pending_at).total_seconds())
        yield GaugeMetricFamily(
            "bounced_local_spool_oldest_age_seconds", "Age of the oldest message in the local spool", age
        )

    def _smtp(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "bounced_smtp_replies",
            "SMTP replies: messages accepted (DATA 2xx) and refusals (4xx/5xx), by reply code",
            labels=["outcome", "code"],
        )
        if self.replies is not None:
            for (outcome, code), n in sorted(self.replies.counts.items()):
                family.add_metric([outcome, code], n)
        yield family


class HttpMetrics:
    """Counters of this app's own requests: these are events, counted as they happen."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "bounced_http_requests",
            "HTTP API requests, by method, route and status",
            ["method", "route", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "bounced_http_request_duration_seconds", "HTTP API request time", ["route"], registry=registry
        )


def new_registry(state: StateCollector, extra: list[Collector]) -> tuple[CollectorRegistry, HttpMetrics]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(state)
    for collector in extra:
        registry.register(collector)
    return registry, HttpMetrics(registry)
