"""/metrics scraped over HTTP: every metric moves when its cause happens."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import aiosmtplib
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.harness import RunningDaemon, running_daemon, send_mail
from tests.http.conftest import client, http_config
from tests.http.seed import RCPT, bounce


async def scrape(d: RunningDaemon) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with client(d, None) as c:  # /metrics is open unless http.metrics_auth
        r = await c.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out[s.name, tuple(sorted(s.labels.items()))] = s.value
    return out


def value(m: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return m.get((name, tuple(sorted(labels.items()))), 0.0)


async def refused_rcpt(port: int) -> None:
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, timeout=10)
    async with smtp:
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
            await smtp.sendmail("", ["someone@not-ours.example"], b"Subject: x\r\n\r\nx\r\n")


async def test_every_metric_moves_with_its_cause(api: RunningDaemon) -> None:
    before = await scrape(api)
    assert value(before, "bounced_intake_backlog") == 0

    await send_mail(api.smtp_port, "", RCPT, bounce("gone@example.org", "5.1.1", "550 5.1.1 User unknown", 1))
    await send_mail(api.smtp_port, "", RCPT, bounce("full@example.org", "4.2.2", "452 4.2.2 Mailbox full", 2))
    await refused_rcpt(api.smtp_port)
    await api.drained()
    m = await scrape(api)
    assert value(m, "bounced_smtp_replies_total", outcome="accepted", code="250") == 2
    assert value(m, "bounced_smtp_replies_total", outcome="refused", code="550") == 1
    assert value(m, "bounced_bounces_total", kind="hard", reason="userunknown") == 1
    assert value(m, "bounced_bounces_total", kind="soft", reason="mailboxfull") == 1
    assert value(m, "bounced_hard_bounces_total", from_domain="sender.test") == 1
    assert value(m, "bounced_suppressions_added_total", origin="bounce") == 1
    assert value(m, "bounced_suppressed") == 1

    async with client(api) as c:
        await c.post("/api/v1/suppressions", json={"email": "x@example.org", "reason": "r"})
        await c.delete("/api/v1/suppressions/gone@example.org", params={"reason": "fixed"})
    m = await scrape(api)
    assert value(m, "bounced_suppressions_added_total", origin="admin") == 1
    assert value(m, "bounced_suppressions_removed_total") == 1
    assert value(m, "bounced_suppressed") == 1
    route = (("method", "POST"), ("route", "/api/v1/suppressions"), ("status", "201"))
    assert m[("bounced_http_requests_total", route)] == 1
    assert value(m, "bounced_http_request_duration_seconds_count", route="/api/v1/suppressions") >= 1

    # Backlog, its age and the apply lag: spooled a minute ago behind the processor's back.
    now = api.daemon.clock.now()
    await api.store.spool(
        bounce("late@example.org", "5.1.1", "550 5.1.1 No such user", 3),
        "",
        RCPT,
        "p",
        now - timedelta(seconds=60),
    )
    m = await scrape(api)
    assert value(m, "bounced_intake_backlog") == 1
    assert value(m, "bounced_intake_oldest_pending_age_seconds") >= 60
    api.daemon.processor.wake()
    await api.drained()
    m = await scrape(api)
    assert (
        value(m, "bounced_intake_backlog") == 0 and value(m, "bounced_intake_oldest_pending_age_seconds") == 0
    )
    assert value(m, "bounced_apply_lag_seconds") >= 60

    # The resend queue: a delivery due five minutes ago that nothing has sent.
    await api.store.record_outbound(
        b"Subject: x\r\n\r\nx\r\n",
        "s@sender.test",
        [("r@dest.example", None)],
        now,
        due_at=[now - timedelta(seconds=300)],
    )
    m = await scrape(api)
    assert value(m, "bounced_resend_queue_depth") == 1
    assert value(m, "bounced_resend_queue_lateness_seconds") >= 300


async def test_acceptor_processes_report_their_replies(tmp_path: Path) -> None:
    async with running_daemon(http_config(tmp_path, acceptors=1)) as d:
        await send_mail(
            d.smtp_port, "", RCPT, bounce("gone@example.org", "5.1.1", "550 5.1.1 User unknown", 1)
        )
        await refused_rcpt(d.smtp_port)
        for _ in range(100):  # the acceptor reports every half second
            m = await scrape(d)
            if value(m, "bounced_smtp_replies_total", outcome="refused", code="550") == 1:
                break
            await asyncio.sleep(0.1)
        assert value(m, "bounced_smtp_replies_total", outcome="accepted", code="250") == 1
        assert value(m, "bounced_smtp_replies_total", outcome="refused", code="550") == 1


async def test_metrics_auth_when_asked(tmp_path: Path) -> None:
    config = http_config(tmp_path)
    from dataclasses import replace

    config = replace(config, http=replace(config.http, metrics_auth=True))
    async with running_daemon(config) as d:
        async with client(d, None) as anon:
            assert (await anon.get("/metrics")).status_code == 401
        async with client(d) as c:
            assert (await c.get("/metrics")).status_code == 200
