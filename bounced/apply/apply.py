"""Apply one spooled message: parse -> classify -> attribute -> policy -> record.

Content never makes this raise: a message that is not mail at all is marked `unparseable`,
one the parser or classifier crashes on is marked `failed` (quarantined for a human, since a
pure step fails the same way every time). Store errors propagate: they are transient, and
the caller retries the message later.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace

from bounced.apply.attribution import Attributor
from bounced.apply.policy import plan_events
from bounced.classify import classify_message
from bounced.clock import Clock
from bounced.config import Config
from bounced.errors import ParseError
from bounced.model import (
    Attribution,
    BounceEvent,
    IntakeMessage,
    IntakeState,
    MessageType,
)
from bounced.parse import parse_message
from bounced.store.base import Store

__all__ = ["ApplyResult", "apply_intake", "bounce_message_id", "looks_like_mail"]

log = logging.getLogger("bounced.apply")

# RFC 5322 field name: printable ASCII except colon; or an mbox "From " separator line.
_FIRST_LINE = re.compile(rb"^(?:[!-9;-~]+[ \t]*:|From )")
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_MESSAGE_ID = re.compile(rb"^message-id[ \t]*:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True, slots=True)
class ApplyResult:
    intake_id: int
    state: IntakeState  # applied, unparseable or failed
    message_type: MessageType | None = None
    events: tuple[BounceEvent, ...] = ()  # as planned; `id` set for the newly written ones
    duplicates: int = 0  # events already recorded from an earlier copy of this bounce
    suppressed: tuple[str, ...] = ()  # addresses newly put on the suppression list
    attribution: Attribution | None = None
    error: str | None = None

    @property
    def written(self) -> tuple[BounceEvent, ...]:
        return tuple(e for e in self.events if e.id is not None)


def looks_like_mail(raw: bytes) -> bool:
    """False for input with no header at all (empty, binary junk): not a message to parse."""
    head = raw.lstrip(b"\r\n \t")[:1000]
    return bool(head) and _FIRST_LINE.match(head) is not None


def bounce_message_id(raw: bytes) -> str | None:
    """The bounce message's own Message-ID (not the returned original's): what tells a
    retransmitted bounce from a new bounce about the same original message."""
    end = _HEADER_END.search(raw, 0, 64 * 1024)
    match = _MESSAGE_ID.search(raw, 0, end.start() if end else min(len(raw), 64 * 1024))
    if match is None:
        return None
    value = b" ".join(match.group(1).split()).decode("ascii", "replace").strip()
    return value[:998] or None


async def apply_intake(
    store: Store,
    intake: IntakeMessage,
    config: Config,
    clock: Clock,
    attributor: Attributor | None = None,
) -> ApplyResult:
    """Process one spooled message and record the outcome in one transaction."""
    if not looks_like_mail(intake.raw):
        return await _unparseable(store, intake, clock, "no message header found")
    try:
        parsed = parse_message(intake.raw)
    except ParseError as exc:
        return await _unparseable(store, intake, clock, str(exc) or "not a mail message")
    except Exception as exc:  # a parser bug: keep the message for a human, do not loop on it
        return await _failed(store, intake, clock, "parse", exc)
    try:
        classified = classify_message(parsed, config.classify)
    except Exception as exc:  # a classifier bug, same treatment
        return await _failed(store, intake, clock, "classify", exc)

    attribution = await attributor.attribute(intake, parsed) if attributor is not None else None
    message_type = parsed.message_type if parsed.failures else MessageType.NONE
    events = plan_events(
        classified, parsed, attribution, config.verp.unsigned_bounces, intake.received_at, intake.id
    )
    outcome = await store.record_events_outcome(
        intake.id, events, clock.now(), message_type, bounce_message_id(intake.raw)
    )
    written = tuple(
        e if event_id is None else _with_id(e, event_id)
        for e, event_id in zip(events, outcome.event_ids, strict=True)
    )
    duplicates = sum(1 for i in outcome.event_ids if i is None)
    result = ApplyResult(
        intake_id=intake.id,
        state=IntakeState.APPLIED,
        message_type=message_type,
        events=written,
        duplicates=duplicates,
        suppressed=outcome.suppressed,
        attribution=attribution,
    )
    _log_result(result, outcome.event_ids)
    return result


def _with_id(event: BounceEvent, event_id: int) -> BounceEvent:
    return replace(event, id=event_id)


async def _unparseable(store: Store, intake: IntakeMessage, clock: Clock, why: str) -> ApplyResult:
    await store.mark_intake(intake.id, IntakeState.UNPARSEABLE, why, clock.now())
    log.warning("event=unparseable intake=%d size=%d error=%s", intake.id, len(intake.raw), _quote(why))
    return ApplyResult(intake_id=intake.id, state=IntakeState.UNPARSEABLE, error=why)


async def _failed(
    store: Store, intake: IntakeMessage, clock: Clock, stage: str, exc: Exception
) -> ApplyResult:
    error = f"{stage} crashed: {type(exc).__name__}: {exc}"
    await store.mark_intake(intake.id, IntakeState.FAILED, error, clock.now())
    log.exception("event=quarantined intake=%d stage=%s error=%s", intake.id, stage, _quote(error))
    return ApplyResult(intake_id=intake.id, state=IntakeState.FAILED, error=error)


def _log_result(result: ApplyResult, event_ids: tuple[int | None, ...]) -> None:
    if not result.events:
        log.info("event=none intake=%d type=%s", result.intake_id, result.message_type)
        return
    suppressed = set(result.suppressed)
    for event, event_id in zip(result.events, event_ids, strict=True):
        log.info(
            "event=bounce kind=%s reason=%s recipient=%s status=%s intake=%d suppressed=%s signed=%s%s",
            event.kind.value,
            event.reason.value,
            _quote(event.recipient),
            event.status or "-",
            result.intake_id,
            "yes" if event.recipient in suppressed and event_id is not None else "no",
            "yes" if event.signed else "no",
            " duplicate=yes" if event_id is None else "",
        )


def _quote(value: str) -> str:
    """key=value logs: quote values with spaces or quotes so lines stay machine-readable."""
    if value and not any(c in value for c in ' "=\n\t'):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
