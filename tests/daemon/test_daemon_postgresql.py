"""The whole daemon on the PostgreSQL store: SMTP in, applied, suppressed, over real sockets."""

from __future__ import annotations

from pathlib import Path

from bounced.model import BounceKind, IntakeState, ProfileStatus
from bounced.store.node import NodeStore
from bounced.store.postgres import PostgresStore
from tests.harness import make_config, running_daemon, send_mail
from tests.store_helpers import intake_counts

FIXTURES = Path(__file__).parent / "fixtures"


async def test_a_hard_bounce_is_applied_and_suppressed_on_postgresql(tmp_path: Path, pg_dsn: str) -> None:
    config = make_config(
        tmp_path,
        smtp={"domains": ["bounces.example.com"]},
        verp={"unsigned_bounces": "suppress"},
        storage={"backend": "postgresql", "dsn": pg_dsn, "pool_size": 4, "node": "mx-test"},
    )
    async with running_daemon(config) as d:
        # This node's store: its intake spool local, the rest in PostgreSQL (docs/nodes.md).
        assert isinstance(d.store, NodeStore) and isinstance(d.store.central, PostgresStore)
        for name in ("hard_userunknown.eml", "soft_mailboxfull.eml"):
            await send_mail(d.smtp_port, "", ["b@bounces.example.com"], (FIXTURES / name).read_bytes())
        await d.drained()
        entry = await d.store.get_suppression("jane.doe@example.org")
        assert entry is not None and entry.created_by == "bounce"
        profile = await d.store.get_profile("jane.doe@example.org")
        assert profile is not None and profile.status is ProfileStatus.HARD_BOUNCED
        (soft,) = await d.store.events_for("john.roe@example.org")
        assert soft.kind is BounceKind.SOFT
        assert (await intake_counts(d.store))[IntakeState.APPLIED] == 2
