"""The PostgreSQL store: one class composed of one mixin per area, like store/sqlite/.

Every mixin derives from `PostgresConnection` (connection.py), which documents what a mixin
may use (`_pool`, `_transaction()`, `_in_transaction()`, `_fetch()` ...). Several nodes
share one database: every write must be right under concurrent writers.
"""

from __future__ import annotations

from bounced.store.postgres.connection import PostgresConnection

__all__ = ["PostgresConnection"]
