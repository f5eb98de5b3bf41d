"""The SQLite store: one class composed of one mixin per area.

Every mixin derives from `SQLiteConnection` (connection.py), which documents the attributes
a mixin may use (`_writer`, `_reader`, `_transaction()`, `_group_commit()`, `_fetchall()`).
To add an area: write `store/sqlite/<area>.py` with `class <Area>Mixin(SQLiteConnection)`,
add it to the bases below, and its protocol to `store/base.py`.
"""

from __future__ import annotations

from bounced.config.storage import StorageConfig
from bounced.store.sqlite.bounces import BouncesMixin
from bounced.store.sqlite.connection import SQLiteConnection
from bounced.store.sqlite.intake import IntakeMixin
from bounced.store.sqlite.outbox import OutboxMixin
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
    WebhooksMixin,
    SQLiteConnection,
):
    """All of the store, on one SQLite file (WAL; one writer connection, one reader)."""

    @classmethod
    async def open(cls, config: StorageConfig) -> SQLiteStore:
        store = cls(config)
        await store.connect()
        return store
