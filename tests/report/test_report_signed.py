"""Signed bounces end to end: mail submitted through the sending side (two source IPs), soft
bounces returned by mail to the VERP return paths, then the report by IP and by from-domain.

With a valid token the store takes from-domain and sending IP from our own delivery record,
not from the returned headers (which here name the wrong domain on purpose).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.harness import running_daemon, send_mail
from tests.report.cli_runner import report_runner
from tests.submission.nexthop import NextHop
from tests.submission.test_bounces_by_mail import dsn
from tests.submission.test_sending_flow import outbound, sending_config

IPS = {"shop.example": "127.0.0.2", "other.example": "127.0.0.3"}
TEXTS = [  # (status, diagnostic as the remote server wrote it, normalised)
    ("4.2.2", "452 4.2.2 Mailbox full", "452 4.2.2 Mailbox full"),
    ("4.3.0", "451 Please try again later", "451 Please try again later"),
    ("4.3.2", "421 Service Temporarily Unavailable", "421 Service Temporarily Unavailable"),
]
Key = tuple[str, str, str]


@pytest.fixture
async def hop() -> AsyncIterator[NextHop]:
    server = await NextHop().start()
    yield server
    await server.stop()


def _cells(path: Path) -> Counter[Key]:
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))
    assert rows[-1][0] == "Total"
    return Counter({(r[0], r[1], r[2]): int(r[-1]) for r in rows[1:-1]})


async def test_report_by_ip_and_from_domain_from_signed_bounces(tmp_path: Path, hop: NextHop) -> None:
    config = sending_config(
        tmp_path,
        hop,
        pools={"default": [IPS["other.example"]], "by_from_domain": {"shop.example": [IPS["shop.example"]]}},
        resend={"default": {"delays": [3600.0], "attempts": 3}},  # no resend during the test
    )
    plan = [  # (sender domain, recipient, text index, bounces about this delivery)
        ("shop.example", "a1@gmail.example", 0, 1),
        ("shop.example", "a2@gmail.example", 0, 2),  # bounced twice: two soft bounces
        ("shop.example", "a3@web.example", 1, 1),
        ("other.example", "b1@gmail.example", 0, 1),
        ("other.example", "b2@web.example", 2, 1),
        ("other.example", "b3@web.example", 2, 1),
    ]
    by_ip: Counter[Key] = Counter()
    by_domain: Counter[Key] = Counter()
    for sender, rcpt, text, times in plan:
        domain = rcpt.rpartition("@")[2]
        by_ip[(IPS[sender], domain, TEXTS[text][2])] += times
        by_domain[(sender, domain, TEXTS[text][2])] += times

    report = report_runner(tmp_path, config)

    async with running_daemon(config) as d:
        for i, (sender, rcpt, _, _) in enumerate(plan):
            raw = outbound(rcpt, subject=f"Offer {i}", sender=f"news@{sender}")
            await send_mail(d.submission_port, f"p@{sender}", [rcpt], raw)
        await hop.wait_for(lambda: len(hop.received) == len(plan))
        await d.daemon.sending_side.run_until_idle()
        for i, (_, rcpt, text, times) in enumerate(plan):
            (copy,) = hop.delivered_to(rcpt)
            status, diagnostic, _ = TEXTS[text]
            for n in range(times):  # distinct bounce messages (not one delivered twice)
                bounce = dsn(
                    copy.mail_from, rcpt, status, diagnostic, action="delayed", msgid=f"<b{i}.{n}@x>"
                )
                bounce = bounce.replace(b"Reporting-MTA:", f"X-Attempt: {n}\r\nReporting-MTA:".encode(), 1)
                await send_mail(d.smtp_port, "", [copy.mail_from], bounce)
        await d.drained()

        for group_by, expected in (("ip", by_ip), ("from-domain", by_domain)):
            out = tmp_path / f"{group_by}.csv"
            await report("--group-by", group_by, "--format", "csv", "--output", str(out))
            assert _cells(out) == expected
