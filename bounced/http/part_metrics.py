"""/metrics of parts wired at composition: the webhook dispatcher's stats and the bounce
policy's alerts (guard trips). Both read in-process counters at scrape time; the daemon
appends them to `Daemon.http_collectors`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bounced.apply.enforce import PolicyAlerts

__all__ = ["PolicyCollector", "WebhookCollector"]


class WebhookCollector(Collector):
    """`stats()` gives the running dispatcher's DispatcherStats, None when none runs (the
    families are still there, at 0, so alert rules always have a series)."""

    def __init__(self, stats: Callable[[], Any | None]) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        s = self.stats()
        yield CounterMetricFamily(
            "bounced_webhook_deliveries",
            "Outbox events delivered: webhook POSTs answered 2xx, broker messages confirmed",
            value=s.delivered if s else 0,
        )
        yield CounterMetricFamily(
            "bounced_webhook_failed_attempts",
            "Webhook POSTs and broker publishes that failed (status, timeout, refused, nack); retried later",
            value=s.failed_attempts if s else 0,
        )
        yield CounterMetricFamily(
            "bounced_webhook_dead_letters",
            "Webhook and broker deliveries given up after retries ran out (bounced hooks replay)",
            value=s.dead_lettered if s else 0,
        )
        yield GaugeMetricFamily(
            "bounced_webhook_lag_seconds",
            "Age of the oldest webhook event not yet delivered or dead-lettered",
            value=s.lag_seconds if s else 0.0,
        )
        yield GaugeMetricFamily(
            "bounced_webhook_backlog",
            "Outbox deliveries (webhooks and brokers) not yet delivered or dead-lettered",
            value=s.pending if s else 0,
        )


class PolicyCollector(Collector):
    """The mass-failure guard and soft-threshold counters of the daemon's one PolicyAlerts."""

    def __init__(self, alerts: PolicyAlerts) -> None:
        self.alerts = alerts

    def collect(self) -> Iterator[Metric]:
        a = self.alerts
        yield CounterMetricFamily(
            "bounced_guard_trips", "Mass-failure guard alerts (one per incident)", value=a.guard_trips
        )
        yield CounterMetricFamily(
            "bounced_guard_quarantined",
            "Hard bounces held in the quarantine by the mass-failure guard instead of suppressing",
            value=a.quarantined,
        )
        yield CounterMetricFamily(
            "bounced_softbounce_threshold_suppressions",
            "Addresses suppressed by a [[policy.soft_thresholds]] rule",
            value=a.softbounce_suppressions,
        )
