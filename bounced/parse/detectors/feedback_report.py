"""RFC 5965 abuse feedback reports (ARF): the complained-about recipients and the feedback type.

A complaint is never lost: a report that names no usable recipient (the provider redacted
it, or the returned message is addressed to "Undisclosed Recipients") still yields one
Failure, with the `REDACTED_RECIPIENT` placeholder and `recipient_redacted` set, so the
apply step records the complaint and attributes it through the VERP envelope when it can.
"""

from __future__ import annotations

from bounced.model import Failure, MessageType
from bounced.parse.address import REDACTED_RECIPIENT, is_redacted, valid_recipient
from bounced.parse.context import Context
from bounced.parse.detectors.base import Detection
from bounced.parse.mime import Part, header, iter_parts, part_text
from bounced.parse.text import find_addresses

__all__ = ["FEEDBACK_TYPES", "FeedbackReport", "read_feedback_report"]

FEEDBACK_TYPES = ("message/feedback-report",)
# RFC 5965 section 3.2 fields naming the recipient; Removal-Recipient is the opt-out
# report's (draft-ietf-marf-as / RFC 6650 "unsubscribe" reports).
_RECIPIENT_FIELDS = ("original-rcpt-to", "removal-recipient")
# More than the scan keeps (it cuts at MAX_FAILURES and says so): reading 20,000 is waste.
_MAX_RECIPIENTS = 1_000


def _is_feedback_container(part: Part) -> bool:
    return (
        part.ctype == "multipart/report" and part.params.get("report-type", "").lower() == "feedback-report"
    )


def _feedback_parts(msg: Part) -> list[Part]:
    """The machine-readable parts: message/feedback-report, or, in a multipart/report whose
    report-type says feedback-report, its second part whatever it is labelled (RFC 5965 3)."""
    found = [p for _, p in iter_parts(msg) if p.ctype in FEEDBACK_TYPES]
    if not found:
        found = [
            c.children[1] for _, c in iter_parts(msg) if _is_feedback_container(c) and len(c.children) > 1
        ]
    return found


class FeedbackReport:
    name = "arf"

    def detect(self, ctx: Context) -> Detection | None:
        parts = _feedback_parts(ctx.msg)
        if not parts:
            return None
        return Detection(MessageType.ARF, read_feedback_report(parts, ctx.original_headers))


def _report_fields(part: Part) -> list[tuple[str, str]]:
    fields: list[tuple[str, str]] = []
    for line in part_text(part).split("\n"):
        name, colon, value = line.partition(":")
        if colon and name.strip() and " " not in name.strip():
            fields.append((name.strip().lower(), value.strip()))
    return fields


def read_feedback_report(parts: list[Part], original: Part | None) -> list[Failure]:
    """One Failure per complained-about recipient: Original-Rcpt-To / Removal-Recipient,
    else the returned message's To, else the redacted placeholder."""
    feedback_type: str | None = None
    recipients: list[str] = []
    for part in parts:
        for name, value in _report_fields(part):
            if name == "feedback-type" and feedback_type is None:
                feedback_type = value.strip().lower() or None
            elif name in _RECIPIENT_FIELDS and len(recipients) < _MAX_RECIPIENTS:
                recipients.extend(a for a in find_addresses(value) if valid_recipient(a))
    if not recipients and original is not None:
        recipients = [a for a in find_addresses(header(original, "To")) if valid_recipient(a)][:1]
    if not recipients:
        recipients = [REDACTED_RECIPIENT]
    seen: set[str] = set()
    failures: list[Failure] = []
    for address in recipients:
        if address.lower() in seen:
            continue
        seen.add(address.lower())
        failures.append(
            Failure(
                recipient=address,
                reason_hint="feedback",
                feedback_type=feedback_type or "abuse",
                recipient_redacted=address == REDACTED_RECIPIENT or is_redacted(address),
            )
        )
    return failures
