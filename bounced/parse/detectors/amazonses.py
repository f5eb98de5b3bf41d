"""Amazon SES notifications delivered by mail (SNS email subscription): a JSON document.

`notificationType` (or, for configuration-set events, `eventType`) Bounce / Complaint /
Delivery; possibly wrapped in an SNS envelope whose `Message` field holds the SES JSON as a
string. Such a message is read as JSON or not at all: scanning it as text finds the ARN
(`identity/x@y`), the unsubscribe URL (`&Endpoint=x@y`) and JSON fragments as "recipients".
"""

from __future__ import annotations

import json
import re
from typing import Any

from bounced.model import Action, Failure, MessageType
from bounced.parse.context import Context
from bounced.parse.detectors.base import Detection
from bounced.parse.text import clean_diagnostic
from bounced.smtp_reply import find_reply_code, find_status

__all__ = ["AmazonSes", "read_ses_json"]

_MAX_JSON = 200_000
_JSON_START_RE = re.compile(r"^[ \t]*\{", re.MULTILINE)
_MARKERS = ('"notificationType"', '"eventType"')
# Last resort for a document a mail system damaged (a line wrapped inside a string): the
# recipient fields by name, so the JSON still decides what is a recipient.
_FIELD_RE = re.compile(
    r'"(notificationType|eventType|emailAddress|bounceType|complaintFeedbackType)"\s*:\s*"([^"\\]{1,320})"'
)


class AmazonSes:
    """A notification is read as JSON or not at all: it ends the scan even when it names
    nobody (another notification type), since no text detector may read it."""

    name = "amazon-ses"

    def detect(self, ctx: Context) -> Detection | None:
        head = ctx.human[:_MAX_JSON]
        if not any(m in head or m.replace('"', '\\"') in head for m in _MARKERS):
            return None
        if not _JSON_START_RE.search(head):
            return None
        kind, failures = read_ses_json(ctx.human)
        return Detection(kind if failures else MessageType.NONE, failures)


def _decode(text: str) -> dict[str, Any] | None:
    match = _JSON_START_RE.search(text[:_MAX_JSON])
    if match is None:
        return None
    body = text[match.end() - 1 : match.end() - 1 + _MAX_JSON]
    # As sent, then with line breaks removed (a gateway wrapped a long line), up to the first
    # blank line (the SNS footer follows one).
    for candidate in (body, body.split("\n\n", 1)[0].replace("\n", "")):
        try:
            doc, _ = json.JSONDecoder().raw_decode(candidate)
        except (ValueError, RecursionError):
            continue
        if isinstance(doc, dict):
            return doc
    return None


def _unwrap(doc: dict[str, Any], depth: int = 0) -> dict[str, Any] | None:
    if "notificationType" in doc or "eventType" in doc:
        return doc
    inner = doc.get("Message")
    if isinstance(inner, str) and depth < 3:
        nested = _decode(inner)
        return _unwrap(nested, depth + 1) if nested is not None else None
    return None


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def read_ses_json(text: str) -> tuple[MessageType, list[Failure]]:
    """The message type and failures an SES notification reports ((NONE, []) for other
    notification types, and for a document that is not JSON even with its lines rejoined
    and has no recipient fields)."""
    decoded = _decode(text)
    doc = _unwrap(decoded) if decoded is not None else None
    if doc is None:
        return _from_fields(text[:_MAX_JSON].replace('\\"', '"'))
    kind = _str(doc.get("notificationType") or doc.get("eventType")).lower()
    if kind == "bounce":
        return MessageType.DSN, _bounces(_dict(doc.get("bounce")))
    if kind == "complaint":
        complaint = _dict(doc.get("complaint"))
        feedback = _str(complaint.get("complaintFeedbackType")).lower() or "abuse"
        addresses = [_str(_dict(r).get("emailAddress")) for r in _list(complaint.get("complainedRecipients"))]
        return MessageType.ARF, [
            Failure(recipient=a, reason_hint="feedback", feedback_type=feedback) for a in addresses if a
        ]
    if kind == "delivery":
        return MessageType.DSN, _deliveries(_dict(doc.get("delivery")))
    return MessageType.NONE, []


def _bounces(bounce: dict[str, Any]) -> list[Failure]:
    transient = _str(bounce.get("bounceType")).lower() == "transient"
    failures: list[Failure] = []
    for r in _list(bounce.get("bouncedRecipients")):
        r = _dict(r)
        if not _str(r.get("emailAddress")):
            continue
        diagnostic = clean_diagnostic(_str(r.get("diagnosticCode")))
        status = find_status(_str(r.get("status"))) or find_status(diagnostic)
        action = Action.DELAYED if transient and _str(r.get("action")).lower() != "failed" else Action.FAILED
        failures.append(
            Failure(
                recipient=_str(r["emailAddress"]),
                action=action,
                status=status,
                reply_code=find_reply_code(diagnostic),
                diagnostic=diagnostic,
                remote_mta=_str(bounce.get("reportingMTA")).removeprefix("dns;").strip() or None,
            )
        )
    return failures


def _deliveries(delivery: dict[str, Any]) -> list[Failure]:
    response = clean_diagnostic(_str(delivery.get("smtpResponse")))
    return [
        Failure(
            recipient=r,
            action=Action.DELIVERED,
            status=find_status(response),
            reply_code=find_reply_code(response),
            diagnostic=response,
            remote_mta=_str(delivery.get("reportingMTA")) or None,
        )
        for r in _list(delivery.get("recipients"))
        if isinstance(r, str) and r
    ]


def _from_fields(text: str) -> tuple[MessageType, list[Failure]]:
    fields = _FIELD_RE.findall(text)
    kinds = [v.lower() for k, v in fields if k in ("notificationType", "eventType")]
    addresses = list(dict.fromkeys(v for k, v in fields if k == "emailAddress"))
    if not kinds or not addresses:
        return MessageType.NONE, []
    if kinds[0] == "complaint":
        return MessageType.ARF, [
            Failure(recipient=a, reason_hint="feedback", feedback_type="abuse") for a in addresses
        ]
    if kinds[0] == "bounce":
        transient = any(k == "bounceType" and v.lower() == "transient" for k, v in fields)
        action = Action.DELAYED if transient else Action.FAILED
        return MessageType.DSN, [Failure(recipient=a, action=action) for a in addresses]
    return MessageType.NONE, []
