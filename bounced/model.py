"""The nouns of bounced: frozen dataclasses and enums that cross module lines.

Addresses are normalised `str` (see `normalise_address`) by the time they land here; the
recipient side (store) compares them in `address_key` form.
Times are timezone-aware UTC datetimes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields
from datetime import datetime
from operator import attrgetter
from typing import Any

from bounced.pickling import pickled_by_constructor

__all__ = [
    "Action",
    "Attribution",
    "AuditEntry",
    "BounceEvent",
    "BounceKind",
    "Classification",
    "ClassifiedFailure",
    "Delivery",
    "DeliveryState",
    "Failure",
    "IntakeMessage",
    "IntakeState",
    "MessageType",
    "NonDelivery",
    "OriginalMessage",
    "OutboundMessage",
    "ParsedMessage",
    "Profile",
    "ProfileStatus",
    "QuarantineEntry",
    "Reason",
    "ReportGrouping",
    "ResendJob",
    "ResendState",
    "SoftBounceGroup",
    "SuppressionEntry",
    "address_domain",
    "address_key",
    "normalise_address",
]


class Action(enum.StrEnum):
    """RFC 3464 section 2.3.3 action values."""

    FAILED = "failed"
    DELAYED = "delayed"
    DELIVERED = "delivered"
    RELAYED = "relayed"
    EXPANDED = "expanded"


class BounceKind(enum.StrEnum):
    HARD = "hard"  # permanent failure of the address: suppress it
    SOFT = "soft"  # temporary failure: resend, status untouched
    BLOCKED = "blocked"  # 5xx about the sender (reputation, auth, policy): never suppress
    COMPLAINT = "complaint"  # ARF feedback report
    AUTOREPLY = "autoreply"  # RFC 3834 vacation / out-of-office
    DELIVERED = "delivered"  # success DSN
    NONE = "none"  # not a bounce at all
    # Our side failed, not the recipient: relay unreachable or timing out, our AUTH/TLS
    # refused, a refusal at MAIL FROM. Resent like a soft bounce; never on the recipient's
    # profile, in the soft-bounce report or in a threshold.
    OUR_SIDE = "our_side"


class Reason(enum.StrEnum):
    """Sisimai's reason vocabulary, plus `greylisted`."""

    USERUNKNOWN = "userunknown"
    HOSTUNKNOWN = "hostunknown"
    HASMOVED = "hasmoved"
    MAILBOXFULL = "mailboxfull"
    MESGTOOBIG = "mesgtoobig"
    EXCEEDLIMIT = "exceedlimit"
    SYSTEMFULL = "systemfull"
    SYSTEMERROR = "systemerror"
    NETWORKERROR = "networkerror"
    EXPIRED = "expired"
    BLOCKED = "blocked"
    BADREPUTATION = "badreputation"
    REQUIREPTR = "requireptr"
    AUTHFAILURE = "authfailure"
    SPAMDETECTED = "spamdetected"
    VIRUSDETECTED = "virusdetected"
    CONTENTERROR = "contenterror"
    POLICYVIOLATION = "policyviolation"
    REJECTED = "rejected"
    FILTERED = "filtered"
    NORELAYING = "norelaying"
    NOTACCEPT = "notaccept"
    NOTCOMPLIANTRFC = "notcompliantrfc"
    SECURITYERROR = "securityerror"
    FAILEDSTARTTLS = "failedstarttls"
    SPEEDING = "speeding"
    TOOMANYCONN = "toomanyconn"
    SUSPEND = "suspend"
    ONHOLD = "onhold"
    SYNTAXERROR = "syntaxerror"
    MAILERERROR = "mailererror"
    UNDEFINED = "undefined"
    VACATION = "vacation"
    FEEDBACK = "feedback"
    DELIVERED = "delivered"
    GREYLISTED = "greylisted"


class ProfileStatus(enum.StrEnum):
    ACTIVE = "active"
    HARD_BOUNCED = "hard_bounced"

    @property
    def label(self) -> str:
        return "Hard bounced" if self is ProfileStatus.HARD_BOUNCED else "Active"


class IntakeState(enum.StrEnum):
    PENDING = "pending"  # spooled, 250 sent, not yet applied
    APPLIED = "applied"
    UNPARSEABLE = "unparseable"  # kept for a human; never retried automatically
    FAILED = "failed"  # processing raised too often: quarantined


class DeliveryState(enum.StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    SOFT_BOUNCED = "soft_bounced"
    SCHEDULED = "scheduled"
    DELIVERED = "delivered"
    HARD_BOUNCED = "hard_bounced"
    UNDELIVERED = "undelivered"
    SUPPRESSED = "suppressed"


class ResendState(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"


def normalise_address(address: str) -> str:
    """Strip brackets/space and lower-case the domain (RFC 5321: only the domain is
    case-insensitive). The local part stays as sent: we send to it so; `address_key` is
    the form in which the recipient side compares addresses."""
    addr = address.strip().strip("<>").strip()
    local, at, domain = addr.rpartition("@")
    if not at:
        return addr
    return f"{local}@{domain.lower().rstrip('.')}"


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def address_key(address: str, fold_local_case: bool = True) -> str:
    """The form in which the recipient side (suppression list, profiles, events) compares
    addresses: `normalise_address`, and the local part lower-cased too when
    `fold_local_case` ([policy] local_part_case = "insensitive", as the big providers
    treat local parts). ASCII only, like SQLite's lower() in migration 0006."""
    addr = normalise_address(address)
    return addr.translate(_ASCII_LOWER) if fold_local_case else addr


def address_domain(address: str) -> str:
    return address.rpartition("@")[2].lower()


# --- parse output -------------------------------------------------------------------


@pickled_by_constructor
@dataclass(frozen=True, slots=True)
class OriginalMessage:
    """What the returned original message (or its headers) tells."""

    message_id: str | None = None
    from_address: str | None = None
    mailing_id: str | None = None  # X-Mailing-ID header
    return_path: str | None = None  # envelope sender seen in Return-Path / X-Postfix-Sender
    to_address: str | None = None

    @property
    def return_path_local(self) -> str | None:
        if not self.return_path:
            return None
        return self.return_path.rpartition("@")[0] or None


@pickled_by_constructor
@dataclass(frozen=True, slots=True)
class Failure:
    """One recipient reported by one bounce message (before classification)."""

    recipient: str
    action: Action = Action.FAILED
    status: str | None = None  # RFC 3463 enhanced code, "5.1.1"
    reply_code: int | None = None  # SMTP reply code, 550
    diagnostic: str = ""  # unfolded, decoded
    remote_mta: str | None = None
    # Set by detectors that know the format's meaning, e.g. "vacation" or "feedback".
    reason_hint: str | None = None
    feedback_type: str | None = None  # ARF Feedback-Type
    # SMTP stage the reply answered, when the bounce says so ("CONN", "HELO", "MAIL",
    # "RCPT", "DATA"): Postfix "(in reply to MAIL FROM command)", Exim "after RCPT TO".
    # A refusal before RCPT TO is about our sender or connection, never the address.
    smtp_command: str | None = None
    # The provider withheld the address (an ARF report's "redacted@", "xxxxx@", or no
    # recipient at all): `recipient` is a placeholder, never suppressed unless a VERP token
    # names the real one.
    recipient_redacted: bool = False
    # The RFC 3464 diagnostic-type of the Diagnostic-Code field, lower-cased: "smtp", or
    # "x-unix" (a local program's exit status, sysexits.h: "X-Unix; 67"), "x-postfix" ...
    diagnostic_type: str | None = None


class MessageType(enum.StrEnum):
    DSN = "dsn"  # RFC 3464 or a non-standard bounce
    ARF = "arf"  # RFC 5965 feedback report
    AUTOREPLY = "autoreply"  # RFC 3834
    NONE = "none"


@pickled_by_constructor
@dataclass(frozen=True, slots=True)
class ParsedMessage:
    message_type: MessageType
    failures: tuple[Failure, ...] = ()
    original: OriginalMessage = field(default_factory=OriginalMessage)
    subject: str | None = None
    # Headers of the bounce itself, useful for attribution (e.g. the envelope recipient
    # that carries the VERP token, when an MTA copies it into X-Original-To/Delivered-To).
    envelope_to: tuple[str, ...] = ()
    defects: tuple[str, ...] = ()  # what the MIME parser complained about
    # Caps that cut this message ("max_parse_bytes", "max_failures"): what was read is
    # right, but there was more; the apply step logs and counts it.
    truncated: tuple[str, ...] = ()


# --- classification -----------------------------------------------------------------


@pickled_by_constructor
@dataclass(frozen=True, slots=True)
class Classification:
    kind: BounceKind
    reason: Reason
    retry_after: int | None = None  # seconds the remote server asked us to wait
    rule: str | None = None  # which rule decided, for logs ("default:4xx", "override[2]")
    # Which rules decided the reason ("phrase:userunknown:user ?unknown", "status:5.2.2" ...;
    # bounced.classify.rules); None where the kind alone decided (ARF, auto-reply, delivered).
    reason_rule: str | None = None


@pickled_by_constructor
@dataclass(frozen=True, slots=True)
class ClassifiedFailure:
    failure: Failure
    classification: Classification

    @property
    def kind(self) -> BounceKind:
        return self.classification.kind

    @property
    def reason(self) -> Reason:
        return self.classification.reason


@dataclass(frozen=True, slots=True)
class Attribution:
    """What a valid VERP token (and our own delivery record) says a bounce is about."""

    recipient: str
    delivery_id: int | None = None
    mailing_id: str | None = None
    from_domain: str | None = None
    sending_ip: str | None = None
    message_id: str | None = None
    signed: bool = False


# --- store records ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IntakeMessage:
    id: int
    received_at: datetime
    mail_from: str
    rcpt_tos: tuple[str, ...]
    peer: str
    raw: bytes
    state: IntakeState
    attempts: int = 0
    error: str | None = None
    # Set when retention ([storage] keep_raw_days) dropped the raw bytes: `raw` is then b"".
    raw_pruned_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class BounceEvent:
    """One classified recipient failure, attributed, as stored."""

    recipient: str
    kind: BounceKind
    reason: Reason
    received_at: datetime
    action: Action | None = None
    status: str | None = None
    reply_code: int | None = None
    diagnostic: str = ""
    remote_mta: str | None = None
    retry_after: int | None = None
    mailing_id: str | None = None
    from_domain: str | None = None
    sending_ip: str | None = None
    message_id: str | None = None  # of the original message
    intake_id: int | None = None  # the bounce message it came from (None: synchronous)
    delivery_id: int | None = None  # our delivery it refers to (VERP or synchronous)
    signed: bool = False  # attributed through a valid VERP token
    source: str = "mail"  # "mail" (bounce received) or "smtp" (next hop's reply)
    # Decided by apply policy: may this event put the address on the suppression list?
    # False for unsigned bounces under the safe default, and for every soft/blocked event.
    suppress: bool = False
    # Decided by the mass-failure guard (apply/guard.py): held in quarantine for an admin
    # instead of suppressed.
    quarantine: bool = False
    rule: str | None = None  # the classification rule that decided kind and reason
    id: int | None = None
    # The report's grouping key of `diagnostic` (report.bounce_text.normalise_bounce_text),
    # set by `apply.policy.plan_events` from what was computed where the failure was
    # classified (a worker process for received bounces); required by the store and the
    # guard; None on events read back from the store. Not part of the event's identity.
    text_key: str | None = field(default=None, compare=False, repr=False)

    @property
    def recipient_domain(self) -> str:
        return address_domain(self.recipient)

    def with_id(self, event_id: int) -> BounceEvent:
        """This event as recorded under `event_id`. (`dataclasses.replace` walks `fields()`
        on every call: twice the cost of this, per written event, on the daemon's process.)"""
        values = list(_EVENT_VALUES(self))
        values[_EVENT_ID_INDEX] = event_id
        return BounceEvent(*values)


_EVENT_FIELDS = [f.name for f in fields(BounceEvent)]
_EVENT_VALUES = attrgetter(*_EVENT_FIELDS)
_EVENT_ID_INDEX = _EVENT_FIELDS.index("id")


@dataclass(frozen=True, slots=True)
class Profile:
    address: str
    status: ProfileStatus
    bounce_count: int = 0
    soft_bounce_count: int = 0
    hard_bounce_count: int = 0
    last_bounce_at: datetime | None = None
    last_bounce_reason: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SuppressionEntry:
    address: str
    reason: str  # Reason value, "complaint", or the admin's text
    created_at: datetime
    created_by: str  # "bounce", "complaint", "smtp", or "admin:<user>"
    bounce_event_id: int | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class QuarantineEntry:
    """A hard bounce the mass-failure guard held instead of suppressing its address."""

    id: int
    address: str
    bounce_event_id: int
    reason: str  # the bounce's Reason value
    recipient_domain: str
    sending_ip: str | None
    text_key: str
    created_at: datetime
    state: str  # "held", "released" (dropped, not suppressed) or "confirmed" (suppressed)
    decided_at: datetime | None = None
    decided_by: str | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    actor: str  # OS user
    action: str  # "suppression.add", "suppression.remove"
    address: str
    reason: str
    id: int | None = None


# --- sending side -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A message handed over on the submission listener (raw bytes kept once)."""

    id: int
    received_at: datetime
    mail_from: str
    raw: bytes
    mailing_id: str | None
    from_domain: str | None
    message_id: str | None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One recipient of one outbound message; the unit that bounces and is resent."""

    id: int
    message_id: int  # OutboundMessage.id
    recipient: str
    sending_ip: str | None
    state: DeliveryState
    attempts: int
    created_at: datetime
    last_attempt_at: datetime | None = None
    last_bounce_text: str | None = None
    mailing_id: str | None = None
    from_domain: str | None = None


@dataclass(frozen=True, slots=True)
class ResendJob:
    id: int
    delivery_id: int
    due_at: datetime
    attempt: int  # the attempt number this resend will be (2 = first resend)
    state: ResendState
    last_bounce_text: str | None = None
    recipient: str | None = None
    lease_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class NonDelivery:
    id: int
    delivery_id: int
    recipient: str
    at: datetime
    attempts: int
    last_bounce_text: str
    mailing_id: str | None = None
    from_domain: str | None = None
    sending_ip: str | None = None


# --- reports ------------------------------------------------------------------------


class ReportGrouping(enum.StrEnum):
    """What the first column of a soft-bounce report groups by."""

    FROM_DOMAIN = "from-domain"  # bounce_events.from_domain: the domain we sent from
    IP = "ip"  # bounce_events.sending_ip


@dataclass(frozen=True, slots=True)
class SoftBounceGroup:
    """One cell of the soft-bounce report, as counted by the store (exact)."""

    group: str | None  # from-domain or sending IP; None when unknown
    recipient_domain: str
    text_key: str  # normalised bounce text (report.bounce_text.normalise_bounce_text)
    amount: int  # soft bounce events in the cell
    example: str | None  # one full original diagnostic of the cell (None: example gone)
    reply_code: int | None = None  # of the example
    status: str | None = None  # of the example
    reason: str | None = None  # of the example (Reason value)


# --- webhooks -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """One row of the webhook outbox, written in the transaction of the change it reports."""

    id: int
    type: str  # config.webhooks.WEBHOOK_EVENT_TYPES
    at: datetime
    recipient: str
    kind: str | None = None
    reason: str | None = None
    status: str | None = None
    reply_code: int | None = None
    diagnostic: str | None = None
    mailing_id: str | None = None
    from_domain: str | None = None
    sending_ip: str | None = None
    signed: bool = False
    bounce_event_id: int | None = None
    delivery_id: int | None = None
    detail: dict[str, Any] | None = None  # guard_tripped: the payload's "guard" object


class WebhookState(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"  # retries ran out: dead-lettered, kept for `bounced hooks replay`


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One event for one hook: its delivery state."""

    id: int
    hook: str
    event: WebhookEvent
    state: WebhookState
    attempts: int
    next_at: datetime
    created_at: datetime
    done_at: datetime | None = None
    last_error: str | None = None
