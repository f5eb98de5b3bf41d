"""On PostgreSQL the report orders rows with equal counts as SQLite does (byte order), even in
a database whose default collation is a language's (ICU English puts "alpha" before "Zeta";
byte order puts "Zeta" first)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bounced.config.storage import StorageConfig
from bounced.model import Action, BounceEvent, BounceKind, Reason, ReportGrouping
from bounced.store.postgres import PostgresStore
from tests.events import keyed
from tests.pg import _admin, _drop, dsn_for, worker_id
from tests.store_helpers import record_events, soft_bounce_groups

T0 = datetime(2026, 2, 3, tzinfo=UTC)


@pytest.fixture
def icu_dsn(pg_template: str) -> Iterator[str]:
    # pg_template: skips, saying so, when no server answers
    name = f"bounced_icu_{worker_id()}_{uuid.uuid4().hex[:10]}"
    _admin(
        f'CREATE DATABASE "{name}" TEMPLATE template0'
        " LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
    )
    try:
        yield dsn_for(name)
    finally:
        _drop(name)


async def test_ties_in_byte_order_under_an_icu_collation(icu_dsn: str) -> None:
    store = await PostgresStore.open(StorageConfig(backend="postgresql", dsn=icu_dsn, pool_size=2))
    try:
        texts = ["451 alpha rejected", "451 Zeta rejected", "451 beta rejected", "451 Beta rejected"]
        events = [
            keyed(
                BounceEvent(
                    recipient=f"u{i}@example.org",
                    kind=BounceKind.SOFT,
                    reason=Reason.REJECTED,
                    received_at=T0 + timedelta(minutes=i),
                    action=Action.DELAYED,
                    status="4.7.1",
                    reply_code=451,
                    diagnostic=text,
                    from_domain="news.shop.test",
                    message_id=f"<m{i}@sender.test>",
                )
            )
            for i, text in enumerate(texts)
        ]
        await record_events(store, None, events, T0)
        got = [
            g.text_key
            async for g in soft_bounce_groups(store, T0, T0 + timedelta(days=1), ReportGrouping.FROM_DOMAIN)
        ]
        assert got == sorted(texts)  # byte order: "451 Beta", "451 Zeta", "451 alpha", "451 beta"
        assert got != sorted(texts, key=str.lower)  # what the database's own collation would give
    finally:
        await store.close()
