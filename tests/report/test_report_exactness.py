"""End to end: bounces over SMTP into a running daemon, then `bounced report` as CSV and XLSX.

The expected counts are computed here from the messages sent, with the normalised texts
written out by hand (not computed by the code under test); every cell of the CSV and of
the workbook must match, and hard bounces, auto-replies and complaints must not count.
"""

from __future__ import annotations

import csv
import io
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openpyxl

from tests.harness import make_config, running_daemon, send_mail
from tests.report.cli_runner import report_runner
from tests.store_helpers import soft_bounce_groups

RCPT = ["b@bounces.example.com"]
FROM_DOMAINS = ["shop.example.com", "bank.example.net", "club.example.org", None]
MAILINGS = ["nov-offers", "dec-news", "weekly"]
RECIPIENT_DOMAINS = ["gmail.example", "web.example", "mail.example", "post.example"]

# (status, diagnostic template, the normalised text the report must show), the five
# documented soft-bounce texts first.
SOFT = [
    (
        "4.7.0",
        "421 Message source blocked temporarily. One or more sender authentication rules matched.",
        "421 Message source blocked temporarily. One or more sender authentication rules matched.",
    ),
    ("4.3.2", "421 Service Temporarily Unavailable", "421 Service Temporarily Unavailable"),
    ("4.3.0", "451 Please try again later", "451 Please try again later"),
    (
        "4.7.1",
        "451 <{rcpt}>: Recipient address rejected: Intentional policy rejection, please try again later",
        "451 <EMAIL>: Recipient address rejected: Intentional policy rejection, please try again later",
    ),
    (
        "4.2.0",
        "450 <b-{n}@bounces.example.com>: Sender address rejected: Greylisted for {n} seconds!"
        " Please, see http://grey.{domain}/help/{n}.html",
        "450 <EMAIL>: Sender address rejected: Greylisted for <N> seconds! Please, see <URL>",
    ),
    (
        "4.2.2",
        "452 4.2.2 <{rcpt}>: Mailbox full, quota {n} bytes exceeded",
        "452 4.2.2 <EMAIL>: Mailbox full, quota <N> bytes exceeded",
    ),
]
HARD = ("5.1.1", "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown in local recipient table")


def original_headers(to: str, from_domain: str | None, mailing: str, message_id: str) -> str:
    sender = f"From: News <news@{from_domain}>\r\n" if from_domain else ""
    return (
        "Return-Path: <b@bounces.example.com>\r\n"
        f"{sender}"
        f"To: {to}\r\n"
        "Subject: Our offers\r\n"
        f"Message-ID: {message_id}\r\n"
        f"X-Mailing-ID: {mailing}\r\n"
        "Date: Thu, 26 Nov 2026 06:10:00 +0000\r\n"
    )


def dsn(
    bounce_id: str,
    recipients: list[tuple[str, str, str, str]],  # (address, action, status, diagnostic)
    from_domain: str | None,
    mailing: str,
    original_id: str,
) -> bytes:
    blocks = "".join(
        f"Final-Recipient: rfc822; {rcpt}\r\n"
        f"Original-Recipient: rfc822;{rcpt}\r\n"
        f"Action: {action}\r\n"
        f"Status: {status}\r\n"
        f"Remote-MTA: dns; mx.{rcpt.rpartition('@')[2]}\r\n"
        f"Diagnostic-Code: smtp; {diagnostic}\r\n"
        "\r\n"
        for rcpt, action, status, diagnostic in recipients
    )
    return (
        "From: MAILER-DAEMON@mx.relay.example (Mail Delivery System)\r\n"
        "To: b@bounces.example.com\r\n"
        "Subject: Delayed Mail (still being retried)\r\n"
        "Date: Thu, 26 Nov 2026 06:10:02 +0000\r\n"
        f"Message-ID: <{bounce_id}@mx.relay.example>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B0UND"\r\n'
        "\r\n"
        "--B0UND\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n"
        "This is the mail system at host mx.relay.example.\r\n"
        "\r\n"
        "--B0UND\r\n"
        "Content-Type: message/delivery-status\r\n"
        "\r\n"
        "Reporting-MTA: dns; mx.relay.example\r\n"
        "Arrival-Date: Thu, 26 Nov 2026 06:10:01 +0000\r\n"
        "\r\n"
        f"{blocks}"
        "--B0UND\r\n"
        "Content-Type: text/rfc822-headers\r\n"
        "\r\n"
        f"{original_headers(recipients[0][0], from_domain, mailing, original_id)}"
        "\r\n"
        "--B0UND--\r\n"
    ).encode()


def auto_reply(sender: str, n: int) -> bytes:
    return (
        f"From: {sender}\r\n"
        "To: b@bounces.example.com\r\n"
        "Subject: Out of office: Our offers\r\n"
        "Date: Thu, 26 Nov 2026 06:10:02 +0000\r\n"
        f"Message-ID: <ooo-{n}@example>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "X-Autoreply: yes\r\n"
        "\r\n"
        "I am out of the office until Monday and will read your message then.\r\n"
    ).encode()


Key = tuple[str, str, str]


@dataclass
class Traffic:
    messages: list[bytes] = field(default_factory=list)
    by_domain: Counter[Key] = field(default_factory=Counter)  # (from-domain, domain, text)
    by_ip: Counter[Key] = field(default_factory=Counter)  # IP unknown without a VERP token
    by_mailing: Counter[str] = field(default_factory=Counter)  # soft bounces per mailing
    not_counted: int = 0  # hard bounces and auto-replies


def build_traffic(seed: int = 42) -> Traffic:
    """The messages to send and what the report must say about them."""
    rng = random.Random(seed)
    t = Traffic()
    for i in range(36):
        from_domain = FROM_DOMAINS[i % len(FROM_DOMAINS)]
        mailing = MAILINGS[i % len(MAILINGS)]
        recipients = []
        for j in range(1 + (i % 3 == 0)):  # every third bounce reports two recipients
            domain = rng.choice(RECIPIENT_DOMAINS)
            rcpt = f"user{i}.{j}@{domain}"
            n = rng.choice([60, 120, 300, 5000 + i])
            if i % 9 == 4 and j == 0:
                status, template = HARD
                recipients.append((rcpt, "failed", status, template.format(rcpt=rcpt)))
                t.not_counted += 1
                continue
            status, template, key = SOFT[(i + j) % len(SOFT)]
            recipients.append((rcpt, "delayed", status, template.format(rcpt=rcpt, n=n, domain=domain)))
            t.by_domain[(from_domain or "(unknown)", domain, key)] += 1
            t.by_ip[("(unknown)", domain, key)] += 1
            t.by_mailing[mailing] += 1
        t.messages.append(dsn(f"bounce-{i}", recipients, from_domain, mailing, f"<orig-{i}@sender.example>"))
    for k in range(3):
        t.messages.append(auto_reply(f"ooo{k}@{RECIPIENT_DOMAINS[k]}", k))
        t.not_counted += 1
    return t


def _csv_cells(path: Path) -> tuple[Counter[Key], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))
    cells: Counter[Key] = Counter()
    for row in rows[1:-1]:
        key = (row[0], row[1], row[2])
        assert key not in cells, f"cell twice: {key}"
        cells[key] = int(row[-1])
    return cells, rows


def _xlsx_cells(path: Path) -> tuple[Counter[Key], list[tuple[object, ...]]]:
    rows = list(openpyxl.load_workbook(path).active.iter_rows(values_only=True))
    cells: Counter[Key] = Counter()
    for row in rows[1:-1]:
        cells[(str(row[0]), str(row[1]), str(row[2]))] = int(row[-1])  # type: ignore[call-overload]
    return cells, rows


async def test_report_counts_every_soft_bounce_exactly(tmp_path: Path) -> None:
    traffic = build_traffic()
    assert traffic.not_counted >= 7 and sum(traffic.by_domain.values()) > 30
    config = make_config(tmp_path, smtp={"domains": ["bounces.example.com"]})
    report = report_runner(tmp_path, config)

    async with running_daemon(config) as d:
        for raw in traffic.messages:
            await send_mail(d.smtp_port, "", RCPT, raw)
        await d.drained()

        for group_by, expected in (("from-domain", traffic.by_domain), ("ip", traffic.by_ip)):
            csv_path, xlsx_path = tmp_path / f"{group_by}.csv", tmp_path / f"{group_by}.xlsx"
            await report("--group-by", group_by, "--format", "csv", "--output", str(csv_path))
            await report("--group-by", group_by, "--format", "xlsx", "--output", str(xlsx_path))

            csv_cells, csv_rows = _csv_cells(csv_path)
            assert csv_cells == expected
            assert csv_rows[-1][0] == "Total" and int(csv_rows[-1][-1]) == sum(expected.values())
            amounts = [int(r[-1]) for r in csv_rows[1:-1]]
            assert amounts == sorted(amounts, reverse=True)
            for row in csv_rows[1:-1]:  # the example is a whole original text of its row
                assert row[3] and "<EMAIL>" not in row[3] and row[3][:3] == row[2][:3]
                assert row[4] and row[5]  # every row has a reason label and a description

            xlsx_cells, xlsx_rows = _xlsx_cells(xlsx_path)
            assert xlsx_cells == expected
            assert xlsx_rows[-1][0] == "Total" and xlsx_rows[-1][-1] == sum(expected.values())

        for mailing, amount in traffic.by_mailing.items():
            path = tmp_path / f"{mailing}.csv"
            await report("--mailing", mailing, "--format", "csv", "--output", str(path))
            cells, _ = _csv_cells(path)
            assert sum(cells.values()) == amount


async def test_each_bounce_of_a_resent_message_counts(tmp_path: Path) -> None:
    """A message sent three times and soft-bounced three times is three soft bounces; the
    same bounce message received twice (a retransmission) is still one."""
    config = make_config(tmp_path, smtp={"domains": ["bounces.example.com"]})
    rcpt = "kim@gmail.example"
    diagnostic = "451 Please try again later"
    async with running_daemon(config) as d:
        for attempt in range(3):
            raw = dsn(
                f"resend-{attempt}",
                [(rcpt, "delayed", "4.3.0", diagnostic)],
                "shop.example.com",
                "weekly",
                "<orig-resent@sender.example>",
            )
            await send_mail(d.smtp_port, "", RCPT, raw)
            if attempt == 0:
                await send_mail(d.smtp_port, "", RCPT, raw)  # the same bounce, delivered twice
        await d.drained()
        now = datetime.now(UTC)
        groups = [
            g async for g in soft_bounce_groups(d.store, now - timedelta(days=1), now + timedelta(days=1))
        ]
    assert [(g.group, g.recipient_domain, g.text_key, g.amount) for g in groups] == [
        ("shop.example.com", "gmail.example", diagnostic, 3)
    ]
