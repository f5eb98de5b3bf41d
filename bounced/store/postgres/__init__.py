"""The PostgreSQL store: one class composed of one mixin per area, like store/sqlite/.

Every mixin derives from `PostgresConnection` (connection.py), which documents what a mixin
may use (`_pool`, `_transaction()`, `_in_transaction()`, `_fetch()` ...). Several nodes
share one database: every write must be right under concurrent writers.
"""

from __future__ import annotations

from bounced.config.storage import StorageConfig
from bounced.store.postgres.admin_views import AdminViewsMixin
from bounced.store.postgres.bounces import BouncesMixin
from bounced.store.postgres.connection import PostgresConnection
from bounced.store.postgres.guard import GuardMixin
from bounced.store.postgres.intake import IntakeMixin
from bounced.store.postgres.outbox import OutboxMixin
from bounced.store.postgres.policy import PolicyMixin
from bounced.store.postgres.report import ReportMixin
from bounced.store.postgres.suppression import SuppressionMixin
from bounced.store.postgres.webhooks import WebhooksMixin

__all__ = ["PostgresConnection", "PostgresStore"]


class PostgresStore(
    IntakeMixin,
    BouncesMixin,
    SuppressionMixin,
    OutboxMixin,
    ReportMixin,
    AdminViewsMixin,
    GuardMixin,
    PolicyMixin,
    WebhooksMixin,
    PostgresConnection,
):
    """All of the store, on a PostgreSQL database shared by every node (asyncpg pool)."""

    @classmethod
    async def open(cls, config: StorageConfig, fold_local_case: bool = True) -> PostgresStore:
        store = cls(config)
        store.fold_local_case = fold_local_case
        await store.connect()
        return store
