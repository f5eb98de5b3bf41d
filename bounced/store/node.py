"""One node of several on a central store: intake spooled locally, everything else central.

Each MX node keeps its durable intake spool in its own SQLite file (`[storage] path`), so a
bounce gets 250 after a local commit whatever the central database server is doing. The
processor reads pending messages from the local spool and records their events in the
CENTRAL store (PostgreSQL; a second SQLite file in fast tests), exactly once:

1. `pending_intake` reads a window from the local spool and adopts it into the central
   store (`adopt_intake(node, messages)`: raw bytes and envelope copied, idempotent by
   (node, local id)). Adopting first also finds a central outage before the window is
   analysed (StoreUnavailable: the processor backs off).
2. `record_batch` records the events against the central intake ids; the central store
   marks its intake rows in the same transaction as the events.
3. Then the local rows are marked.

A crash between 2 and 3 leaves a local row pending whose central row is done: the next
adoption says so, the local row takes the central state and the message is not applied
again. Every other area (suppressions, outbox, reports, webhooks, guard) is the central
store's: attribute lookups not defined here go to it.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from bounced.clock import utcnow
from bounced.config.storage import StorageConfig
from bounced.errors import StoreError, StoreUnavailable
from bounced.logfmt import kv
from bounced.model import IntakeMessage, IntakeState
from bounced.store.base import (
    IntakeRecording,
    IntakeStats,
    IntakeSummary,
    MetricsSnapshot,
    RecordOutcome,
    Store,
)
from bounced.store.recording import RecordingFront
from bounced.store.sqlite import SQLiteStore

__all__ = ["CentralStatus", "NodeStore", "open_node_store"]

log = logging.getLogger("bounced.store")

_DONE = (IntakeState.APPLIED, IntakeState.UNPARSEABLE, IntakeState.FAILED)
PROBE_TIMEOUT = 5.0  # seconds: /readyz and /metrics say "unreachable" past this


async def open_node_store(config: StorageConfig, fold_local_case: bool = True) -> NodeStore:
    """This node's local spool (`config.path`) and the PostgreSQL database (`config.dsn`).
    A database that does not answer now does not stop the node: it is connected in the
    background (`NodeStore.connect_later`) and intake works meanwhile."""
    from bounced.store.postgres import PostgresStore

    local = await SQLiteStore.open(config, fold_local_case)
    central = PostgresStore(config)
    central.fold_local_case = fold_local_case
    store = NodeStore(local, central, config.node)
    try:
        await central.connect()
    except StoreUnavailable as exc:
        store.connect_later(central.connect, str(exc))
    except BaseException:
        await local.close()
        raise
    return store


@dataclass(frozen=True, slots=True)
class CentralStatus:
    """`NodeStore.central_status`: can the central store be reached, and what waits locally."""

    up: bool
    error: str | None
    backlog: int  # local spool messages not yet applied to the central store
    oldest_pending_at: datetime | None


class NodeStore(RecordingFront):
    """The store of one node: `local` (its intake spool) and `central` (all the rest).

    Implements `store.base.Store`: the intake methods and `record_batch` are written here,
    every other method is the central store's (`__getattr__`)."""

    def __init__(self, local: SQLiteStore, central: Store, node: str) -> None:
        if not node:
            raise StoreError("a node store needs a node name ([storage] node)")
        self.local = local
        self.central = central
        self.node = node
        # Local intake id -> central intake id, for messages adopted and not yet marked here.
        self._central_ids: dict[int, int] = {}
        self._unconnected: str | None = None  # why the central store is not connected yet
        self._connecting: asyncio.Task[None] | None = None

    def __getattr__(self, name: str) -> Any:
        # Only called for names not found on the instance or the class: the central store's.
        if name.startswith("_") or name in ("local", "central", "node"):  # during __init__
            raise AttributeError(name)
        found = getattr(self.central, name)
        if self._unconnected is not None and inspect.iscoroutinefunction(found):
            return self._not_connected
        return found

    async def _not_connected(self, *args: Any, **kwargs: Any) -> Any:
        raise StoreUnavailable(f"central store not connected yet: {self._unconnected}")

    def _central(self) -> Store:
        """The central store; StoreUnavailable while it is not connected yet."""
        if self._unconnected is not None:
            raise StoreUnavailable(f"central store not connected yet: {self._unconnected}")
        return self.central

    def connect_later(
        self, connect: Callable[[], Awaitable[None]], error: str, retry_max: float = 5.0
    ) -> None:
        """The central store did not answer at start: try `connect` again in the background
        (doubling from 0.5 s up to `retry_max`); until it succeeds every central call raises
        StoreUnavailable, while intake goes on into the local spool."""
        self._unconnected = error
        log.warning("event=central_store_unavailable", extra=kv(node=self.node, at="start", error=error))

        async def keep_trying() -> None:
            delay = 0.5
            while True:
                await asyncio.sleep(delay)
                try:
                    await connect()
                except StoreUnavailable as exc:
                    self._unconnected = str(exc)
                    delay = min(delay * 2, retry_max)
                    continue
                self._unconnected = None
                log.info("event=central_store_connected", extra=kv(node=self.node))
                return

        self._connecting = asyncio.create_task(keep_trying(), name="bounced-central-connect")

    async def close(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
            await asyncio.gather(self._connecting, return_exceptions=True)
        try:
            await self.local.close()
        finally:
            await self.central.close()

    # --- intake: the local spool ---------------------------------------------------

    async def spool(
        self, raw: bytes, mail_from: str, rcpt_tos: Sequence[str], peer: str, received_at: datetime
    ) -> int:
        return await self.local.spool(raw, mail_from, rcpt_tos, peer, received_at)

    async def get_intake(self, intake_id: int) -> IntakeMessage | None:
        return await self.local.get_intake(intake_id)

    async def note_intake_attempt(self, intake_id: int, error: str) -> int:
        return await self.local.note_intake_attempt(intake_id, error)

    async def intake_stats(self) -> IntakeStats:
        return await self.local.intake_stats()

    async def list_intake(
        self, state: IntakeState, limit: int = 100, after_id: int = 0
    ) -> list[IntakeSummary]:
        return await self.local.list_intake(state, limit, after_id)

    async def writable(self) -> bool:
        """The local spool accepts writes (intake does not need the central store)."""
        return await self.local.writable()

    async def prune_intake_raw(self, older_than: datetime, limit: int, now: datetime | None = None) -> int:
        """Retention on both copies of the raw bytes: this node's spool, then the central
        intake rows (of every node: each node's retention does the same, harmlessly)."""
        pruned = await self.local.prune_intake_raw(older_than, limit, now)
        return pruned + await self._central().prune_intake_raw(older_than, limit, now)

    async def pending_intake(self, limit: int = 100, after_id: int = 0) -> list[IntakeMessage]:
        """Pending messages of the local spool, adopted into the central store. Messages the
        central store has already finished (a crash before the local mark) are marked
        here and left out; a window left empty that way is followed by the next one.
        Raises StoreUnavailable when the central store cannot be reached."""
        if after_id == 0:  # a new pass: forget the previous one's leftovers
            self._central_ids.clear()
        while True:
            window = await self.local.pending_intake(limit, after_id)
            if not window:
                return []
            todo = await self._adopt(window)
            if todo:
                return todo
            after_id = window[-1].id

    async def mark_intake(
        self, intake_id: int, state: IntakeState, error: str | None = None, now: datetime | None = None
    ) -> None:
        """Mark the central copy first (when adopted), then the local row: a crash between the
        two is read back by the next adoption (the local row takes the central state)."""
        central_id = self._central_ids.get(intake_id)
        if central_id is not None:
            await self._central().mark_intake(central_id, state, error, now)
        await self.local.mark_intake(intake_id, state, error, now)
        if state is not IntakeState.PENDING:
            self._central_ids.pop(intake_id, None)

    # --- recording: central, then the local mark --------------------------------------

    async def record_batch(self, items: Sequence[IntakeRecording], now: datetime) -> list[RecordOutcome]:
        """`BounceStore.record_batch` with local intake ids: recorded in the central store
        against the central ids (adopted now if `pending_intake` did not), then marked in
        the local spool. Items whose message the central store has finished already are
        not recorded again: their outcome lists every event as a duplicate."""
        known = self._central_ids
        unknown = [i.intake_id for i in items if i.intake_id is not None and i.intake_id not in known]
        if unknown:
            await self._adopt(await self._load(unknown))
        central_items: list[IntakeRecording] = []
        positions: list[int] = []
        for position, item in enumerate(items):
            if item.intake_id is None:
                central_items.append(item)
            elif (central_id := self._central_ids.get(item.intake_id)) is not None:
                central_items.append(_for_central(item, central_id))
            else:
                continue  # finished centrally before: marked locally by `_adopt`
            positions.append(position)
        outcomes = [RecordOutcome(event_ids=(None,) * len(item.events), suppressed=()) for item in items]
        if central_items:
            recorded = await self._central().record_batch(central_items, now)
            for position, outcome in zip(positions, recorded, strict=True):
                outcomes[position] = outcome
        marks = {
            i.intake_id: IntakeRecording(i.intake_id, (), i.state, i.message_type, error=i.error)
            for i in items
            if i.intake_id is not None and i.intake_id in known
        }
        if marks:
            await self.local.record_batch(list(marks.values()), now)  # no events: marks the rows only
            for intake_id in marks:
                self._central_ids.pop(intake_id, None)
        return outcomes

    async def _load(self, intake_ids: Iterable[int]) -> list[IntakeMessage]:
        messages = []
        for intake_id in intake_ids:
            message = await self.local.get_intake(intake_id)
            if message is None:
                raise StoreError(f"no intake message with id {intake_id} in this node's spool")
            messages.append(message)
        return messages

    async def _adopt(self, messages: Sequence[IntakeMessage]) -> list[IntakeMessage]:
        """Adopt `messages` into the central store; those still to be applied, in order.
        A message the central store has applied (or quarantined while the local row is still
        pending) was finished before a crash: the local row takes the central state."""
        adopted = await self._central().adopt_intake(self.node, messages)
        todo: list[IntakeMessage] = []
        finished: list[IntakeRecording] = []
        for message in messages:
            central_id, central_state = adopted[message.id]
            if central_state is IntakeState.APPLIED or (
                central_state in _DONE and message.state is IntakeState.PENDING
            ):
                if message.state is not central_state:
                    finished.append(IntakeRecording(message.id, state=central_state))
                continue
            self._central_ids[message.id] = central_id
            todo.append(message)
        if finished:
            log.info("event=intake_finished_centrally", extra=kv(node=self.node, count=len(finished)))
            await self.local.record_batch(finished, utcnow())
        return todo

    # --- what /readyz and /metrics read ----------------------------------------------

    async def metrics_snapshot(self, now: datetime) -> MetricsSnapshot:
        """The central store's figures, with this node's local backlog as the backlog."""
        central = await self._central().metrics_snapshot(now)
        local = await self.local.metrics_snapshot(now)
        return replace(central, backlog=local.backlog, oldest_pending_at=local.oldest_pending_at)

    async def central_status(self, timeout: float = PROBE_TIMEOUT) -> CentralStatus:
        """Probe the central store (a write transaction, at most `timeout` seconds) and read
        the local backlog; never raises for an unreachable central store."""
        error: str | None = None
        try:
            await asyncio.wait_for(self._central().writable(), timeout)
        except TimeoutError:
            error = f"no answer within {timeout:g} s"
        except (StoreError, OSError) as exc:
            error = str(exc) or type(exc).__name__
        local = await self.local.metrics_snapshot(utcnow())
        return CentralStatus(error is None, error, local.backlog, local.oldest_pending_at)


def _for_central(item: IntakeRecording, central_id: int) -> IntakeRecording:
    events = tuple(replace(e, intake_id=central_id) for e in item.events)
    return replace(item, intake_id=central_id, events=events)
