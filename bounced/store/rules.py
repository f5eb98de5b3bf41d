"""What a store change writes besides itself, the same on every backend (SQLite, PostgreSQL).

The stores hold the SQL; the decisions about what a queue row becomes, what an audit entry
says and which webhook events a change fires live here once, so both backends write the
same rows. Pure: values in, values out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bounced.model import BounceEvent, DeliveryState, ResendState
from bounced.webhooks.payload import event_type_for_bounce

__all__ = [
    "OUTBOX_COLUMNS",
    "admin_event_row",
    "confirm_audit",
    "guard_alert_detail",
    "guard_audit",
    "guard_event_fields",
    "guard_removal_reason",
    "guard_why",
    "job_state_after",
    "plain_policy_rows",
    "policy_audit_reason",
    "quarantine_confirm_reason",
    "quarantine_release_reason",
    "release_audit",
    "webhook_rows_for_bounces",
]

# The columns of an outbox row (webhook_events), in the order the helpers below give them.
OUTBOX_COLUMNS = (
    "type, at, recipient, kind, reason, status, reply_code, diagnostic, mailing_id, from_domain,"
    " sending_ip, signed, bounce_event_id, delivery_id"
)

Row = tuple[Any, ...]


def job_state_after(state: DeliveryState) -> ResendState:
    """The queue row's end state once its attempt left the delivery in `state`."""
    return ResendState.CANCELLED if state is DeliveryState.SUPPRESSED else ResendState.DONE


def webhook_rows_for_bounces(
    recorded: Sequence[tuple[BounceEvent, str, int | None]], suppressed: set[int], now_us: int
) -> list[Row]:
    """Outbox rows (OUTBOX_COLUMNS) for bounce events just recorded, given as (event, its
    normalised recipient, its new id or None for a duplicate): the bounce's own event, then
    `suppression_added` when its id is in `suppressed` (it put the address on the list)."""
    out: list[Row] = []
    for event, recipient, event_id in recorded:
        if event_id is None:
            continue
        fields = (
            recipient, event.kind.value, event.reason.value, event.status, event.reply_code,
            event.diagnostic, event.mailing_id, event.from_domain, event.sending_ip, int(event.signed),
            event_id, event.delivery_id,
        )  # fmt: skip
        kind_type = event_type_for_bounce(event.kind)
        if kind_type is not None:
            out.append((kind_type, now_us, *fields))
        if event_id in suppressed:
            out.append(("suppression_added", now_us, *fields))
    return out


def admin_event_row(event_type: str, now_us: int, address: str, reason: str) -> Row:
    """An admin's change: kind "admin", the reason they gave as diagnostic."""
    return (event_type, now_us, address, "admin", None, None, None, reason, *(None,) * 3, 0, None, None)


def plain_policy_rows(
    event_type: str,
    now_us: int,
    addresses: Sequence[str],
    reason: str | None,
    diagnostic: str | None,
) -> list[Row]:
    """A policy change with no bounce behind it: kind "policy"."""
    return [
        (event_type, now_us, a, "policy", reason, None, None, diagnostic, None, None, None, 0, None, None)
        for a in addresses
    ]


def guard_why(scope: str, key: str) -> str:
    """Why the guard moved suppressions to the quarantine (audit, webhook diagnostic)."""
    return f"mass-failure guard: {scope} {key} tripped, quarantined"


def guard_removal_reason(why: str, event_id: int) -> str:
    return f"{why} (bounce event {event_id})"


def guard_alert_detail(alert: Mapping[str, Any], group: tuple[str, str, str], held: int) -> dict[str, Any]:
    """The `guard` object of a guard_tripped event."""
    scope, key, text_key = group
    return {**alert, "scope": scope, "key": key, "text_key": text_key, "held": held}


def guard_event_fields(detail: Mapping[str, Any]) -> tuple[str, str | None, str]:
    """(diagnostic, sending_ip, detail JSON) of a guard_tripped event: no recipient."""
    sending_ip = detail["key"] if detail["scope"] == "ip" else None
    return detail["text_key"], sending_ip, json.dumps(dict(detail), sort_keys=True)


def guard_audit(now_us: int, moved: Sequence[Sequence[Any]], why: str) -> list[Row]:
    """audit_log rows (at, actor, action, address, reason) for suppressions the guard moved
    to the quarantine, given as (address, bounce event id, ...)."""
    return [(now_us, "guard", "suppression.remove", r[0], guard_removal_reason(why, r[1])) for r in moved]


def release_audit(now_us: int, actor: str, rows: Sequence[Sequence[Any]]) -> list[Row]:
    """audit_log rows for quarantine entries released, given as (id, address, bounce event id, ...)."""
    return [(now_us, actor, "quarantine.release", r[1], quarantine_release_reason(r[2])) for r in rows]


def confirm_audit(now_us: int, actor: str, rows: Sequence[Sequence[Any]]) -> list[Row]:
    """audit_log rows for quarantine entries confirmed, given as (id, address, bounce event
    id, reason)."""
    return [(now_us, actor, "suppression.add", r[1], quarantine_confirm_reason(r[3], r[2])) for r in rows]


def quarantine_release_reason(event_id: int) -> str:
    return f"released from quarantine (bounce event {event_id})"


def quarantine_confirm_reason(reason: str, event_id: int) -> str:
    return f"{reason} (quarantine confirmed, bounce event {event_id})"


def policy_audit_reason(reason: str, note: str) -> str:
    return f"{reason}: {note}"
