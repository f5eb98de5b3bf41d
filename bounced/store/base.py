"""The store interface. The daemon talks to these protocols and never writes SQL.

Each area has its own protocol (intake, bounces, suppressions, outbox, report, admin views,
policy, webhooks); each consumer is annotated with a protocol of its own composed from them
(`IntakeSpool` for the SMTP sessions, `ProcessorStore` for the processor, `ApplyStore` for
apply and its policy, `SenderStore` for the delivery queue, `ReportingStore` for reports,
`ServiceStore` for the admin service layer, the CLI and the HTTP API); `Store` is the
union, what a backend implements (`store/sqlite/`, `store/postgres/`, and `store/node.py`
for a node: its local spool plus the central store).

What any store must guarantee:

- Durability on return: every method that returns has committed (for SQLite, an fsync'd
  commit). A caller may acknowledge what it wrote: `spool` returning an id is what lets
  the SMTP session answer 250; a method that raises wrote nothing the caller relies on.
- Transactions: each method is one transaction. `record_batch` records many intake
  messages all or nothing (the caller retries them one by one after an error); recording
  a bounce writes its events, the profile and suppression changes, the resend seam, the
  webhook outbox rows and the intake's state together, never part of them.
- Idempotency: a bounce event carries a duplicate key (the bounce's own Message-ID, else
  the intake's raw hash, with the original's Message-ID, recipient and status): recording
  it again is a no-op that returns None for its id, so a bounce received or applied twice
  counts once. Events with no bounce message (the next hop's synchronous reply) are never
  merged. Resend scheduling is keyed by (delivery, attempt); webhook deliveries by
  (event, hook); `add_suppression` / `remove_suppression` return False when there is
  nothing to do.
- Concurrency: several coroutines (and several processes: the CLI beside the daemon) may
  call at once; a store serialises writers itself (SQLite: one writer connection and
  the database lock with a busy timeout) and groups concurrent `spool` calls into one
  commit. Claims (`claim_attempts`) take a lease, so two senders never send one attempt.
- Values: addresses given to any method are normalised with `model.address_key` (domain
  case-insensitive; local parts too unless [policy] local_part_case = "sensitive");
  datetimes are timezone-aware UTC, stored to the microsecond. The store persists what
  policy decided (`BounceEvent.suppress`, `quarantine`, `text_key`); it decides nothing
  about what a bounce means and does not import the report or apply layers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from bounced.model import (
    AuditEntry,
    BounceEvent,
    Delivery,
    DeliveryState,
    IntakeMessage,
    IntakeState,
    MessageType,
    NonDelivery,
    OutboundMessage,
    Profile,
    QuarantineEntry,
    ReportGrouping,
    ResendJob,
    SoftBounceGroup,
    SuppressionEntry,
    WebhookDelivery,
    WebhookEvent,
    WebhookState,
)
from bounced.store.timecodec import from_micros_opt

__all__ = [
    "METRICS_QUERIES",
    "AdminViewStore",
    "ApplyStore",
    "BounceStore",
    "DeliveryLookup",
    "IntakeRecording",
    "IntakeSpool",
    "IntakeStats",
    "IntakeStore",
    "IntakeSummary",
    "MetricsSnapshot",
    "OutboundAttempt",
    "OutboxStore",
    "PolicyStore",
    "ProcessorStore",
    "RecordOutcome",
    "ReportStore",
    "ReportingStore",
    "ResendTiming",
    "SenderStore",
    "ServiceStore",
    "Store",
    "SuppressionStore",
    "WebhookStore",
]


@dataclass(frozen=True, slots=True)
class RecordOutcome:
    """What `record_events_outcome` did: one id per given event (None: a duplicate, skipped)
    and the addresses it newly put on the suppression list."""

    event_ids: tuple[int | None, ...]
    suppressed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class IntakeRecording:
    """One intake message's result for `record_batch`: its events (state applied), or the
    state unparseable/failed with the reason. `intake_id` None: events with no intake
    message (the next hop's synchronous reply), nothing marked."""

    intake_id: int | None
    events: tuple[BounceEvent, ...] = ()
    state: IntakeState = IntakeState.APPLIED
    message_type: MessageType | None = None
    bounce_id: str | None = None  # the bounce's own Message-ID (see `record_events_outcome`)
    error: str | None = None


@dataclass(frozen=True, slots=True)
class IntakeStats:
    """`intake_stats`: messages per state (every state present), raw bytes still stored, and
    how many messages had their raw bytes dropped by retention."""

    counts: dict[IntakeState, int]
    raw_bytes: int
    pruned: int


@dataclass(frozen=True, slots=True)
class IntakeSummary:
    """An intake message without its raw bytes (`list_intake`): what an operator scans."""

    id: int
    received_at: datetime
    mail_from: str
    rcpt_tos: tuple[str, ...]
    peer: str
    state: IntakeState
    attempts: int
    error: str | None
    size: int  # bytes of the raw message still stored (0 once pruned)
    message_type: MessageType | None
    raw_pruned_at: datetime | None


class IntakeSpool(Protocol):
    """The SMTP sessions' store: the store itself, or in an acceptor process the link to
    the daemon that owns it (`intake.acceptor.RemoteSpool`)."""

    async def spool(
        self, raw: bytes, mail_from: str, rcpt_tos: Sequence[str], peer: str, received_at: datetime
    ) -> int:
        """Make a received message durable (fsync'd commit, grouped with concurrent callers)
        and return its id. Raises SpoolError if it could not: answer 4xx, not 250."""
        ...


class IntakeStore(IntakeSpool, Protocol):
    async def adopt_intake(
        self, node: str, messages: Sequence[IntakeMessage]
    ) -> dict[int, tuple[int, IntakeState]]:
        """A central store takes over `node`'s locally spooled `messages` (`id`: the local
        id): each inserted as pending unless (node, local id) is already here, so moving a
        spool again adds nothing. Returns per local id (central id, central state)."""
        ...

    async def pending_intake(self, limit: int = 100, after_id: int = 0) -> list[IntakeMessage]:
        """Messages in state pending with id > after_id, oldest first."""
        ...

    async def get_intake(self, intake_id: int) -> IntakeMessage | None: ...

    async def mark_intake(
        self, intake_id: int, state: IntakeState, error: str | None = None, now: datetime | None = None
    ) -> None: ...

    async def note_intake_attempt(self, intake_id: int, error: str) -> int:
        """Count one failed processing attempt; returns the attempts so far."""
        ...

    async def prune_intake_raw(self, older_than: datetime, limit: int, now: datetime | None = None) -> int:
        """Retention: drop the raw bytes (keep the row, raw_pruned_at = now) of at most
        `limit` applied messages received before `older_than`, in one short transaction;
        returns how many. Never touches pending, failed or unparseable messages."""
        ...

    async def intake_stats(self) -> IntakeStats: ...

    async def list_intake(
        self, state: IntakeState, limit: int = 100, after_id: int = 0
    ) -> list[IntakeSummary]:
        """Messages in `state` with id > after_id, oldest first, without their raw bytes."""
        ...


class BounceStore(Protocol):
    async def record_events_outcome(
        self,
        intake_id: int | None,
        events: Sequence[BounceEvent],
        now: datetime,
        message_type: MessageType | None = None,
        bounce_id: str | None = None,
    ) -> RecordOutcome:
        """In one transaction: insert events (duplicates skipped), update profiles, suppress
        hard/complaint addresses whose events have `suppress=True`, mark soft events with a
        delivery_id resend_state='pending', mark the intake applied. Returns per event its
        new id (None: a duplicate) and the addresses newly suppressed.

        Duplicates: the same bounce message (its own Message-ID `bounce_id`, else the intake's
        raw hash) about the same original message, recipient and status. Events without an
        intake or bounce_id (synchronous replies) are never merged."""
        ...

    async def record_batch(self, items: Sequence[IntakeRecording], now: datetime) -> list[RecordOutcome]:
        """`record_events_outcome` for many intake messages in ONE transaction (one fsync),
        in order: an event duplicating one earlier in the batch is a duplicate too. Items
        with state unparseable/failed only mark their intake. All or nothing: on an error
        nothing is recorded (the caller may retry the items one by one)."""
        ...

    async def events_for(self, recipient: str) -> list[BounceEvent]: ...

    async def get_event(self, event_id: int) -> BounceEvent | None: ...


class SuppressionStore(Protocol):
    async def get_suppression(self, address: str) -> SuppressionEntry | None: ...

    async def suppressed_among(self, addresses: Iterable[str]) -> set[str]:
        """Those of `addresses`, as given, whose normal form is on the suppression list."""
        ...

    async def list_suppressions(self, limit: int = 1000, offset: int = 0) -> list[SuppressionEntry]: ...

    async def count_suppressions(self) -> int: ...

    async def add_suppression(
        self, address: str, reason: str, actor: str, now: datetime, note: str | None = None
    ) -> bool:
        """Admin suppression, audited; False if already suppressed."""
        ...

    async def remove_suppression(self, address: str, reason: str, actor: str, now: datetime) -> bool:
        """Admin removal, audited; a hard_bounced profile becomes active. False if absent."""
        ...

    async def get_profile(self, address: str) -> Profile | None: ...

    async def audit_entries(self, address: str | None = None) -> list[AuditEntry]: ...


@dataclass(frozen=True, slots=True)
class OutboundAttempt:
    """One claimed queue row: what the sender needs to try a delivery once."""

    job_id: int
    delivery_id: int
    attempt: int  # 1 = first delivery, 2 = first resend
    due_at: datetime
    recipient: str
    sending_ip: str | None
    created_at: datetime  # when the delivery was submitted (max_age counts from here)
    outbound_id: int  # OutboundMessage.id (raw bytes kept there once)
    mailing_id: str | None = None
    from_domain: str | None = None
    message_id: str | None = None  # Message-ID header of the outbound message


@dataclass(frozen=True, slots=True)
class ResendTiming:
    job_id: int
    due_at: datetime
    started_at: datetime
    finished_at: datetime


class DeliveryLookup(Protocol):
    """What attribution reads of the sending side: our message and delivery a bounce is about."""

    async def get_outbound(self, message_id: int) -> OutboundMessage | None: ...

    async def get_delivery(self, delivery_id: int) -> Delivery | None: ...


class OutboxStore(DeliveryLookup, Protocol):
    """The sending side (store/sqlite/outbox.py): messages, deliveries, the resend queue."""

    async def record_outbound(
        self,
        raw: bytes,
        mail_from: str,
        recipients: Sequence[tuple[str, str | None]],
        now: datetime,
        *,
        mailing_id: str | None = None,
        from_domain: str | None = None,
        message_id: str | None = None,
        due_at: Sequence[datetime] | None = None,
    ) -> tuple[int, list[int]]: ...

    async def count_refusal(self, address: str, now: datetime) -> int: ...

    async def list_resends(
        self,
        limit: int = 1000,
        include_first: bool = True,
        *,
        recipient: str | None = None,
        submission_id: int | None = None,
    ) -> list[ResendJob]: ...

    async def get_resend(self, job_id: int) -> ResendJob | None: ...

    async def jobs_for_delivery(self, delivery_id: int) -> list[ResendJob]: ...

    async def next_due_at(self) -> datetime | None: ...

    async def queue_counts(self) -> dict[str, int]: ...

    async def list_non_deliveries(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        mailing_id: str | None = None,
        limit: int = 10_000,
    ) -> list[NonDelivery]: ...

    async def pending_resend_events(self, limit: int = 500) -> list[BounceEvent]: ...

    async def claim_attempts(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[OutboundAttempt]: ...

    async def finish_attempts(
        self, rows: Sequence[tuple[int, int, DeliveryState, datetime, str | None]]
    ) -> None: ...

    async def schedule_resend(
        self,
        delivery_id: int,
        attempt: int,
        due_at: datetime,
        now: datetime,
        bounce_text: str,
        event_id: int | None = None,
    ) -> bool: ...

    async def give_up_delivery(
        self,
        delivery_id: int,
        now: datetime,
        bounce_text: str,
        event_id: int | None = None,
        state: DeliveryState = DeliveryState.UNDELIVERED,
    ) -> bool: ...

    async def mark_resend_event(self, event_id: int, state: str) -> None: ...


class ReportStore(Protocol):
    def soft_bounce_cell_batches(
        self,
        start: datetime,
        end: datetime,
        group_by: ReportGrouping = ReportGrouping.FROM_DOMAIN,
        mailing_id: str | None = None,
    ) -> AsyncIterator[list[tuple[Any, ...]]]:
        """`soft_bounce_group_batches` as plain tuples in `SoftBounceGroup`'s field order
        (group '' when unknown): no object per row, for the report writers."""
        ...

    def soft_bounce_group_batches(
        self,
        start: datetime,
        end: datetime,
        group_by: ReportGrouping = ReportGrouping.FROM_DOMAIN,
        mailing_id: str | None = None,
    ) -> AsyncIterator[list[SoftBounceGroup]]:
        """Exact soft-bounce counts in [start, end) per (group, recipient domain, normalised
        text), largest first (ties by group, domain, text); streamed in batches of rows
        (less overhead per row for big reports)."""
        ...

    def non_deliveries_between(
        self, start: datetime, end: datetime, mailing_id: str | None = None
    ) -> AsyncIterator[NonDelivery]:
        """Non-delivery events in [start, end), oldest first; streamed."""
        ...


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    """What /metrics reads from the store at scrape time (`AdminViewStore.metrics_snapshot`)."""

    counters: list[tuple[str, str, str, int]]  # (name, k1, k2, n) of the metric_counters table
    backlog: int  # intake messages waiting to be applied
    oldest_pending_at: datetime | None
    last_apply_lag: float | None  # seconds from receipt to applied, of the latest applied message
    queue_pending: int  # resend queue rows waiting
    oldest_overdue_at: datetime | None  # due time of the most overdue pending row
    suppressed: int

    @classmethod
    def from_rows(
        cls,
        counters: Sequence[Sequence[Any]],
        backlog: Sequence[Any] | None,
        applied: Sequence[Any] | None,
        queue: Sequence[Any] | None,
        suppressed: int,
    ) -> MetricsSnapshot:
        """From the rows of the store's queries (`METRICS_QUERIES`, any backend)."""
        lag = None
        if applied is not None:
            lag = max(0, int(applied[1]) - int(applied[0])) / 1e6
        return cls(
            counters=[(str(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in counters],
            backlog=int(backlog[0]) if backlog else 0,
            oldest_pending_at=from_micros_opt(backlog[1]) if backlog else None,
            last_apply_lag=lag,
            queue_pending=int(queue[0]) if queue else 0,
            oldest_overdue_at=from_micros_opt(queue[1]) if queue else None,
            suppressed=int(suppressed),
        )


# What `metrics_snapshot` reads (SQL with `?` marks, the same on every backend): counters;
# intake backlog; the latest applied message; the queue (param: now in µs); suppressions.
METRICS_QUERIES = (
    "SELECT name, k1, k2, n FROM metric_counters",
    "SELECT count(*), min(received_at) FROM intake WHERE state = 'pending'",
    "SELECT received_at, processed_at FROM intake"
    " WHERE state = 'applied' AND processed_at IS NOT NULL ORDER BY id DESC LIMIT 1",
    "SELECT count(*), min(CASE WHEN due_at < ? THEN due_at END) FROM resend_jobs WHERE state = 'pending'",
    "SELECT count(*) FROM suppressions",
)


class AdminViewStore(Protocol):
    """Reads and bulk writes for the service layer (store/sqlite/admin_views.py)."""

    async def list_suppressions_after(
        self, after: tuple[datetime, str] | None, limit: int
    ) -> list[SuppressionEntry]: ...

    async def import_suppressions(
        self, entries: Sequence[SuppressionEntry], audit_reason: str, actor: str, now: datetime
    ) -> int: ...

    async def events_after(self, after_id: int, limit: int) -> list[BounceEvent]: ...

    async def soft_bounce_examples(
        self,
        start: datetime,
        end: datetime,
        group_by: ReportGrouping,
        group: str | None,
        recipient_domain: str,
        text_key: str,
        mailing_id: str | None = None,
        limit: int = 20,
    ) -> list[BounceEvent]: ...

    async def metrics_snapshot(self, now: datetime) -> MetricsSnapshot: ...

    async def writable(self) -> bool: ...


class PolicyStore(Protocol):
    """The bounce policy's reads and writes (store/sqlite/guard.py, store/sqlite/policy.py).
    A guard group is (scope "domain" or "ip", key, normalised text)."""

    async def guard_state(
        self, groups: Iterable[tuple[str, str, str]], since: datetime, signed_only: bool = False
    ) -> tuple[dict[tuple[str, str, str], int], set[tuple[str, str, str]]]:
        """Per group: hard bounces since `since` (signed ones only: `signed_only`); and the
        groups tripped and still active."""
        ...

    async def touch_guard(self, groups: Iterable[tuple[str, str, str]], now: datetime) -> None: ...

    async def trip_guard(
        self,
        group: tuple[str, str, str],
        since: datetime,
        now: datetime,
        alert: Mapping[str, Any] | None = None,
    ) -> int:
        """Record a trip; move the group's suppressions since `since` to the quarantine; with
        `alert`, a guard_tripped webhook event (in the same transaction)."""
        ...

    async def list_quarantine(
        self, state: str | None = "held", domain: str | None = None, limit: int = 10_000
    ) -> list[QuarantineEntry]: ...

    async def release_quarantine(
        self, actor: str, now: datetime, domain: str | None = None, ids: Sequence[int] | None = None
    ) -> int: ...

    async def confirm_quarantine(
        self, actor: str, now: datetime, domain: str | None = None, ids: Sequence[int] | None = None
    ) -> int: ...

    async def last_delivered_at(self, address: str) -> datetime | None: ...

    async def soft_bounced_addresses(self, since: datetime | None = None) -> list[str]: ...

    async def suppress_by_policy(
        self, address: str, reason: str, event_id: int | None, now: datetime, note: str
    ) -> bool: ...

    def events_between(self, start: datetime, end: datetime) -> AsyncIterator[BounceEvent]: ...


class WebhookStore(Protocol):
    """The webhook outbox (store/sqlite/webhooks.py): events and per-hook delivery state."""

    def enable_webhook_outbox(self, enabled: bool) -> None: ...

    async def materialize_webhook_deliveries(
        self, hook: str, types: Collection[str], now: datetime
    ) -> int: ...

    async def due_webhook_deliveries(self, hook: str, now: datetime, limit: int) -> list[WebhookDelivery]: ...

    async def next_webhook_due(self, hook: str) -> datetime | None: ...

    async def finish_webhook_deliveries(
        self, rows: Sequence[tuple[int, WebhookState, int, datetime, datetime | None, str | None]]
    ) -> None: ...

    async def webhook_backlog(self, hook: str | None = None) -> Any: ...

    async def list_webhook_deliveries(
        self,
        hook: str | None = None,
        state: WebhookState | None = None,
        since: datetime | None = None,
        limit: int = 1000,
    ) -> list[WebhookDelivery]: ...

    async def get_webhook_event(self, event_id: int) -> WebhookEvent | None: ...

    async def webhook_deliveries_for(self, event_id: int) -> list[WebhookDelivery]: ...

    async def replay_webhooks(
        self, hook: str, types: Collection[str], since: datetime, now: datetime
    ) -> int: ...

    async def prune_webhooks(self, before: datetime) -> int: ...


# --- per consumer ---------------------------------------------------------------------------


class ApplyStore(BounceStore, PolicyStore, DeliveryLookup, Protocol):
    """Apply (`apply.batch`), its policy (`apply.enforce`) and attribution: record events,
    the guard's and soft thresholds' reads and writes, our deliveries."""


class ProcessorStore(IntakeStore, ApplyStore, Protocol):
    """The processor (`bounced.processor`): pending intake, attempts, and apply."""


class SenderStore(OutboxStore, ApplyStore, SuppressionStore, Protocol):
    """The delivery queue and sender (`bounced.outbound`): claims, outcomes, the next hop's
    refusals recorded as bounces."""


class ReportingStore(ReportStore, AdminViewStore, IntakeStore, Protocol):
    """Reports and their examples (`service.report`, `report.export`)."""


class ServiceStore(ReportingStore, SuppressionStore, OutboxStore, ApplyStore, WebhookStore, Protocol):
    """The admin service layer, the CLI and the HTTP API (`service`, `cli`, `http`)."""


class Store(
    IntakeStore,
    BounceStore,
    SuppressionStore,
    OutboxStore,
    ReportStore,
    AdminViewStore,
    PolicyStore,
    WebhookStore,
    Protocol,
):
    async def close(self) -> None: ...
