"""The SQLite store: one class composed of one mixin per area.

Every mixin derives from `SQLiteConnection` (connection.py), which documents the attributes
a mixin may use (`_writer`, `_reader`, `_transaction()`, `_group_commit()`, `_fetchall()`).
To add an area: write `store/sqlite/<area>.py` with `class <Area>Mixin(SQLiteConnection)`,
add it to the bases below, and its protocol to `store/base.py`.
"""

from __future__ import annotations

from bounced.config.storage import StorageConfig
from bounced.store.sqlite.admin_views import AdminViewsMixin
from bounced.store.sqlite.bounces import BouncesMixin
from bounced.store.sqlite.connection import SQLiteConnection
from bounced.store.sqlite.guard import GuardMixin
from bounced.store.sqlite.intake import IntakeMixin
from bounced.store.sqlite.outbox import OutboxMixin
from bounced.store.sqlite.policy import PolicyMixin
from bounced.store.sqlite.report import ReportMixin
from bounced.store.sqlite.suppression import SuppressionMixin
from bounced.store.sqlite.webhooks import WebhooksMixin

__all__ = ["SQLiteStore"]


class SQLiteStore(
    IntakeMixin,
    BouncesMixin,
    SuppressionMixin,
    OutboxMixin,
    ReportMixin,
    AdminViewsMixin,
    GuardMixin,
    PolicyMixin,
    WebhooksMixin,
    SQLiteConnection,
):
    """All of the store, on one SQLite file (WAL; one writer connection, one reader)."""

    @classmethod
    async def open(cls, config: StorageConfig, fold_local_case: bool = True) -> SQLiteStore:
        store = cls(config)
        store.fold_local_case = fold_local_case
        await store.connect()
        return store
