"""RFC 5965 abuse feedback reports (ARF): the complained-about recipients and the feedback type."""

from __future__ import annotations

from bounced.model import Failure
from bounced.parse.mime import Part, header, iter_parts, part_text
from bounced.parse.text import find_addresses

__all__ = ["FEEDBACK_TYPES", "is_feedback_report", "read_feedback_report"]

FEEDBACK_TYPES = ("message/feedback-report",)


def is_feedback_report(msg: Part) -> bool:
    return any(p.ctype in FEEDBACK_TYPES for _, p in iter_parts(msg))


def _report_fields(part: Part) -> list[tuple[str, str]]:
    fields: list[tuple[str, str]] = []
    for line in part_text(part).split("\n"):
        name, colon, value = line.partition(":")
        if colon and name.strip() and " " not in name.strip():
            fields.append((name.strip().lower(), value.strip()))
    return fields


def read_feedback_report(msg: Part, original: Part | None) -> list[Failure]:
    """One Failure per complained-about recipient: Original-Rcpt-To, else the original's To."""
    feedback_type: str | None = None
    recipients: list[str] = []
    for _, part in iter_parts(msg):
        if part.ctype not in FEEDBACK_TYPES:
            continue
        for name, value in _report_fields(part):
            if name == "feedback-type" and feedback_type is None:
                feedback_type = value.strip().lower() or None
            elif name in ("original-rcpt-to", "removal-recipient"):
                recipients.extend(find_addresses(value))
    if not recipients and original is not None:
        recipients = find_addresses(header(original, "To"))[:1]
    seen: set[str] = set()
    failures: list[Failure] = []
    for address in recipients:
        if address.lower() in seen:
            continue
        seen.add(address.lower())
        failures.append(
            Failure(recipient=address, reason_hint="feedback", feedback_type=feedback_type or "abuse")
        )
    return failures
