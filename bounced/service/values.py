"""Checking and converting request values, and the JSON shape of every record: one place for
each, used by the CLI and the API alike."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime
from typing import Any

from bounced.addresses import address_problem
from bounced.model import AuditEntry, BounceEvent, NonDelivery, Profile, ResendJob, SuppressionEntry
from bounced.model import normalise_address as _normalise
from bounced.service.errors import InvalidInput

__all__ = [
    "audit_dict",
    "event_dict",
    "iso",
    "job_dict",
    "non_delivery_dict",
    "parse_when",
    "profile_dict",
    "required_text",
    "suppression_dict",
    "valid_address",
    "valid_limit",
]

MAX_PAGE = 10_000  # one page of any listing; the rest comes with the cursor / offset


def valid_address(text: str, field: str = "email") -> str:
    """The normalised address, or InvalidInput naming `field`."""
    problem = address_problem(text)
    if problem is not None:
        raise InvalidInput(field, problem)
    return _normalise(text)


def required_text(value: str | None, field: str) -> str:
    if value is None or not str(value).strip():
        raise InvalidInput(field, "must not be empty")
    return str(value)


def valid_limit(value: int, field: str = "limit", maximum: int = MAX_PAGE) -> int:
    if not 1 <= value <= maximum:
        raise InvalidInput(field, f"expected 1 to {maximum}, got {value}")
    return value


def parse_when(text: str, field: str = "from") -> datetime:
    """`2026-01-31`, `2026-01-31T08:00`, `2026-01-31 08:00:00+02:00`, `...Z`: aware, UTC default."""
    value = text.strip()
    try:
        if len(value) == 10:
            d = date.fromisoformat(value)
            return datetime(d.year, d.month, d.day, tzinfo=UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            field,
            f"{text!r} is not a date or date-time (expected YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+HH:MM])",
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def suppression_dict(entry: SuppressionEntry | None) -> dict[str, Any] | None:
    if entry is None:
        return None
    data = asdict(entry)
    data["created_at"] = iso(entry.created_at)
    return data


def audit_dict(entry: AuditEntry) -> dict[str, Any]:
    data = asdict(entry)
    data["at"] = iso(entry.at)
    return data


def profile_dict(profile: Profile) -> dict[str, Any]:
    data = asdict(profile)
    data["status"] = profile.status.value
    data["status_label"] = profile.status.label
    for key in ("last_bounce_at", "created_at", "updated_at"):
        data[key] = iso(getattr(profile, key))
    return data


def event_dict(e: BounceEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "received_at": iso(e.received_at),
        "recipient": e.recipient,
        "kind": e.kind.value,
        "reason": e.reason.value,
        "status": e.status,
        "reply_code": e.reply_code,
        "diagnostic": e.diagnostic,
        "remote_mta": e.remote_mta,
        "mailing_id": e.mailing_id,
        "from_domain": e.from_domain,
        "sending_ip": e.sending_ip,
        "signed": e.signed,
        "source": e.source,
        "intake_id": e.intake_id,
        "delivery_id": e.delivery_id,
    }


def _utc(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def job_dict(job: ResendJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "delivery_id": job.delivery_id,
        "recipient": job.recipient,
        "next_attempt_at": _utc(job.due_at),
        "attempt": job.attempt,
        "attempts_so_far": job.attempt - 1,
        "state": job.state.value,
        "last_bounce_text": job.last_bounce_text,
    }


def non_delivery_dict(nd: NonDelivery) -> dict[str, Any]:
    return {
        "id": nd.id,
        "delivery_id": nd.delivery_id,
        "recipient": nd.recipient,
        "at": _utc(nd.at),
        "attempts": nd.attempts,
        "last_bounce_text": nd.last_bounce_text,
        "mailing_id": nd.mailing_id,
        "from_domain": nd.from_domain,
        "sending_ip": nd.sending_ip,
    }
