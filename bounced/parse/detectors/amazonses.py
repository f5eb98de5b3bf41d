"""Amazon SES notifications delivered by mail (SNS email subscription): a JSON document.

`notificationType` Bounce / Complaint / Delivery; possibly wrapped in an SNS envelope whose
`Message` field holds the SES JSON as a string.
"""

from __future__ import annotations

import json
from typing import Any

from bounced.model import Action, Failure
from bounced.parse.detectors.base import Context
from bounced.parse.text import clean_diagnostic, find_reply_code, find_status

__all__ = ["AmazonSesJson"]

_MAX_JSON = 200_000


def _load(text: str) -> dict[str, Any] | None:
    start = text.find("{")
    if start < 0 or ('"notificationType"' not in text[:_MAX_JSON] and '"Message"' not in text[:_MAX_JSON]):
        return None
    try:
        doc, _ = json.JSONDecoder().raw_decode(text[start : start + _MAX_JSON])
    except (ValueError, RecursionError):
        return None
    if not isinstance(doc, dict):
        return None
    inner = doc.get("Message")
    if "notificationType" not in doc and isinstance(inner, str):
        return _load(inner)
    return doc if "notificationType" in doc or "eventType" in doc else None


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


class AmazonSesJson:
    name = "amazonses-json"

    def detect(self, ctx: Context) -> list[Failure]:
        doc = _load(ctx.human)
        if doc is None:
            return []
        kind = _str(doc.get("notificationType") or doc.get("eventType")).lower()
        failures: list[Failure] = []
        if kind == "bounce":
            bounce = doc.get("bounce") or {}
            transient = _str(bounce.get("bounceType")).lower() == "transient"
            for r in bounce.get("bouncedRecipients") or []:
                if not isinstance(r, dict) or not _str(r.get("emailAddress")):
                    continue
                diagnostic = clean_diagnostic(_str(r.get("diagnosticCode")))
                status = find_status(_str(r.get("status"))) or find_status(diagnostic)
                action = (
                    Action.DELAYED
                    if transient and _str(r.get("action")).lower() != "failed"
                    else Action.FAILED
                )
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
        elif kind == "complaint":
            complaint = doc.get("complaint") or {}
            feedback = _str(complaint.get("complaintFeedbackType")).lower() or "abuse"
            for r in complaint.get("complainedRecipients") or []:
                if isinstance(r, dict) and _str(r.get("emailAddress")):
                    failures.append(
                        Failure(
                            recipient=_str(r["emailAddress"]), reason_hint="feedback", feedback_type=feedback
                        )
                    )
        elif kind == "delivery":
            delivery = doc.get("delivery") or {}
            response = clean_diagnostic(_str(delivery.get("smtpResponse")))
            for r in delivery.get("recipients") or []:
                if isinstance(r, str) and r:
                    failures.append(
                        Failure(
                            recipient=r,
                            action=Action.DELIVERED,
                            status=find_status(response),
                            reply_code=find_reply_code(response),
                            diagnostic=response,
                            remote_mta=_str(delivery.get("reportingMTA")) or None,
                        )
                    )
        return failures
