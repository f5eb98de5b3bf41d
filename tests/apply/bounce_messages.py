"""Realistic bounce messages written for the apply tests."""

from __future__ import annotations


def original_headers(to: str, message_id: str = "<20260501.spring@news.sender.test>") -> str:
    return (
        "Return-Path: <b-tok@bounces.sender.test>\r\n"
        "From: Sender News <news@Sender.TEST>\r\n"
        f"To: {to}\r\n"
        "Subject: Spring sale\r\n"
        f"Message-ID: {message_id}\r\n"
        "X-Mailing-ID: spring-2026\r\n"
    )


def dsn(
    recipient: str,
    status: str,
    diagnostic: str,
    action: str = "failed",
    message_id: str | None = None,
    bounce_id: str = "<bounce.1@mx.sender.test>",
) -> bytes:
    """A Postfix-style RFC 3464 delivery status notification."""
    headers = original_headers(recipient, message_id or "<20260501.spring@news.sender.test>")
    text = (
        "From: MAILER-DAEMON@mx.sender.test (Mail Delivery System)\r\n"
        "To: b-tok@bounces.sender.test\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Date: Fri, 1 May 2026 12:00:00 +0000\r\n"
        f"Message-ID: {bounce_id}\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="BOUND"\r\n'
        "\r\n"
        "--BOUND\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n"
        "This is the mail system at host mx.sender.test.\r\n"
        "I'm sorry to have to inform you that your message could not\r\n"
        "be delivered to one or more recipients.\r\n"
        "\r\n"
        "--BOUND\r\n"
        "Content-Type: message/delivery-status\r\n"
        "\r\n"
        "Reporting-MTA: dns; mx.sender.test\r\n"
        "Arrival-Date: Fri, 1 May 2026 11:59:58 +0000\r\n"
        "\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        f"Original-Recipient: rfc822;{recipient}\r\n"
        f"Action: {action}\r\n"
        f"Status: {status}\r\n"
        "Remote-MTA: dns; mx.example.org\r\n"
        f"Diagnostic-Code: smtp; {diagnostic}\r\n"
        "\r\n"
        "--BOUND\r\n"
        "Content-Type: text/rfc822-headers\r\n"
        "\r\n"
        f"{headers}"
        "\r\n"
        "--BOUND--\r\n"
    )
    return text.encode("ascii")


def arf(recipient: str) -> bytes:
    """An RFC 5965 abuse report for one of our messages."""
    headers = original_headers(recipient)
    text = (
        "From: feedback@fbl.example.org\r\n"
        "To: b-tok@bounces.sender.test\r\n"
        "Subject: Abuse report\r\n"
        "Date: Fri, 1 May 2026 12:00:00 +0000\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="ARF"\r\n'
        "\r\n"
        "--ARF\r\n"
        "Content-Type: text/plain\r\n"
        "\r\n"
        "This is an email abuse report.\r\n"
        "\r\n"
        "--ARF\r\n"
        "Content-Type: message/feedback-report\r\n"
        "\r\n"
        "Feedback-Type: abuse\r\n"
        "User-Agent: ExampleFBL/1.0\r\n"
        "Version: 1\r\n"
        f"Original-Rcpt-To: {recipient}\r\n"
        "Source-IP: 192.0.2.5\r\n"
        "\r\n"
        "--ARF\r\n"
        "Content-Type: text/rfc822-headers\r\n"
        "\r\n"
        f"{headers}"
        "\r\n"
        "--ARF--\r\n"
    )
    return text.encode("ascii")


def plain(subject: str = "Hello there", extra: str = "") -> bytes:
    return (
        "From: Someone <someone@example.net>\r\n"
        "To: b-tok@bounces.sender.test\r\n"
        f"Subject: {subject}\r\n"
        "Date: Fri, 1 May 2026 12:00:00 +0000\r\n"
        "Message-ID: <hello.1@example.net>\r\n"
        f"{extra}"
        "\r\n"
        "Just writing to say hello.\r\n"
    ).encode("ascii")
