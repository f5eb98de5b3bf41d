"""Bounces sent to a running daemon over SMTP, for the API, metrics and page tests."""

from __future__ import annotations

from tests.apply.bounce_messages import dsn
from tests.harness import RunningDaemon, send_mail

RCPT = ["b-tok@bounces.sender.test"]


def bounce(recipient: str, status: str, diagnostic: str, n: int, from_domain: str = "sender.test") -> bytes:
    raw = dsn(recipient, status, diagnostic, message_id=f"<orig.{n}@news.x>", bounce_id=f"<bounce.{n}@mx.x>")
    return raw.replace(b"Sender.TEST>", from_domain.encode() + b">", 1)


async def seed_bounces(d: RunningDaemon) -> dict[str, int]:
    """Hard and soft bounces from two from-domains; returns soft counts per from-domain."""
    n = 0
    soft = {"sender.test": 0, "news.other.test": 0}
    for i in range(3):
        n += 1
        await send_mail(
            d.smtp_port, "", RCPT, bounce(f"gone{i}@example.org", "5.1.1", "550 5.1.1 User unknown", n)
        )
    for i, (domain, times) in enumerate((("sender.test", 4), ("news.other.test", 2))):
        for j in range(times):
            n += 1
            text = "452 4.2.2 Mailbox full" if j % 2 == 0 else "421 4.4.2 Connection timed out"
            status = "4.2.2" if j % 2 == 0 else "4.4.2"
            raw = bounce(f"full{i}{j}@dest{j % 2}.example", status, text, n, domain)
            await send_mail(d.smtp_port, "", RCPT, raw)
            soft[domain] += 1
    await d.drained()
    return soft
