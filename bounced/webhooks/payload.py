"""What a webhook POST carries: the JSON body (schema 1) and its signature header. Pure.

    Bounced-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>

The receiver recomputes v1 over the raw body bytes and compares in constant time, and
rejects a `t` too far from its clock (replays). docs/webhooks.md has a test vector.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from bounced.model import BounceKind, WebhookEvent

__all__ = [
    "EVENT_ID_HEADER",
    "SCHEMA_VERSION",
    "SIGNATURE_HEADER",
    "event_body",
    "event_dict",
    "event_type_for_bounce",
    "sign_body",
    "verify_signature",
]

SCHEMA_VERSION = 1
SIGNATURE_HEADER = "Bounced-Signature"
EVENT_ID_HEADER = "Idempotency-Key"
_BOUNCE_TYPES = {
    BounceKind.HARD: "hard_bounce",
    BounceKind.SOFT: "soft_bounce",
    BounceKind.COMPLAINT: "complaint",
    BounceKind.AUTOREPLY: "autoreply",
}


def event_type_for_bounce(kind: BounceKind) -> str | None:
    """The webhook event a recorded bounce of `kind` fires (None: blocked, delivered DSN, none)."""
    return _BOUNCE_TYPES.get(kind)


def event_dict(event: WebhookEvent) -> dict[str, Any]:
    body = {
        "schema": SCHEMA_VERSION,
        "id": event.id,
        "type": event.type,
        "time": event.at.isoformat().replace("+00:00", "Z"),
        "recipient": event.recipient,
        "kind": event.kind,
        "reason": event.reason,
        "status": event.status,
        "reply_code": event.reply_code,
        "diagnostic": event.diagnostic,
        "mailing_id": event.mailing_id,
        "from_domain": event.from_domain,
        "sending_ip": event.sending_ip,
        "signed": event.signed,
        "bounce_event_id": event.bounce_event_id,
        "delivery_id": event.delivery_id,
    }
    if event.type == "guard_tripped":  # only this type carries it: other bodies stay as they were
        body["guard"] = event.detail
    return body


def event_body(event: WebhookEvent) -> bytes:
    """The same bytes for every attempt of one event (sorted keys, no whitespace)."""
    return json.dumps(event_dict(event), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign_body(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(secret: str, header: str, body: bytes, now: int, tolerance: int = 300) -> bool:
    """True when `header` signs `body` with `secret` and its time is within `tolerance` s."""
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        fields.setdefault(name, []).append(value)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign_body(secret, timestamp, body).rpartition("v1=")[2]
    return any(hmac.compare_digest(expected, v) for v in fields.get("v1", []))
