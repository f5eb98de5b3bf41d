"""The whole daemon in-process: SMTP in, parse, classify, policy, store, over real sockets."""

from __future__ import annotations

from pathlib import Path

import aiosmtplib
import pytest

from bounced.clock import FakeClock
from bounced.config import load_config
from bounced.daemon import Daemon
from bounced.model import BounceKind, IntakeMessage, IntakeState, ParsedMessage, ProfileStatus
from bounced.processor import Processor, ProcessorSettings
from bounced.sdnotify import Notifier
from bounced.store import open_store
from tests.harness import make_config, running_daemon, send_mail
from tests.store_helpers import intake_counts

FIXTURES = Path(__file__).parent / "fixtures"
HARD = (FIXTURES / "hard_userunknown.eml").read_bytes()
SOFT = (FIXTURES / "soft_mailboxfull.eml").read_bytes()
JUNK = (FIXTURES / "malformed.eml").read_bytes()
RCPT = ["b@bounces.example.com"]
DOMAINS = {"domains": ["bounces.example.com"]}


async def test_hard_bounce_suppresses_when_unsigned_bounces_are_trusted(tmp_path: Path) -> None:
    config = make_config(tmp_path, smtp=DOMAINS, verp={"unsigned_bounces": "suppress"})
    async with running_daemon(config) as d:
        await send_mail(d.smtp_port, "", RCPT, HARD)
        await d.drained()
        profile = await d.store.get_profile("jane.doe@example.org")
        assert profile is not None and profile.status is ProfileStatus.HARD_BOUNCED
        entry = await d.store.get_suppression("jane.doe@example.org")
        assert entry is not None and entry.created_by == "bounce"
        (event,) = await d.store.events_for("jane.doe@example.org")
        assert event.kind is BounceKind.HARD
        assert event.mailing_id == "nov-2026-offers"
        assert (await intake_counts(d.store))[IntakeState.APPLIED] == 1


async def test_soft_bounce_records_but_never_suppresses(tmp_path: Path) -> None:
    config = make_config(tmp_path, smtp=DOMAINS, verp={"unsigned_bounces": "suppress"})
    async with running_daemon(config) as d:
        await send_mail(d.smtp_port, "", RCPT, SOFT)
        await d.drained()
        assert await d.store.get_suppression("john.roe@example.org") is None
        profile = await d.store.get_profile("john.roe@example.org")
        assert profile is not None and profile.status is ProfileStatus.ACTIVE
        (event,) = await d.store.events_for("john.roe@example.org")
        assert event.kind is BounceKind.SOFT


async def test_unsigned_hard_bounce_suppresses_nothing_under_default_policy(tmp_path: Path) -> None:
    # verp.unsigned_bounces = "auto": once a key is configured, only signed bounces suppress
    config = make_config(tmp_path, smtp=DOMAINS, verp={"keys": {"k1": "0123456789abcdef"}})
    async with running_daemon(config) as d:
        await send_mail(d.smtp_port, "", RCPT, HARD)
        await d.drained()
        (event,) = await d.store.events_for("jane.doe@example.org")
        assert event.kind is BounceKind.HARD and not event.signed
        assert await d.store.get_suppression("jane.doe@example.org") is None


async def test_malformed_message_is_kept_as_unparseable_and_the_daemon_goes_on(tmp_path: Path) -> None:
    config = make_config(tmp_path, smtp=DOMAINS, verp={"unsigned_bounces": "suppress"})
    async with running_daemon(config) as d:
        _, reply = await send_mail(d.smtp_port, "", RCPT, JUNK)
        junk_id = int(reply.rsplit(" ", 1)[1])
        await send_mail(d.smtp_port, "", RCPT, HARD)
        await d.drained()
        junk = await d.store.get_intake(junk_id)
        assert junk is not None and junk.state is IntakeState.UNPARSEABLE
        assert junk.raw == JUNK  # nothing lost: kept byte for byte for a human
        assert await d.store.get_suppression("jane.doe@example.org") is not None


async def test_messages_pending_at_start_are_applied_first(tmp_path: Path) -> None:
    """Crash recovery: what was spooled (and acknowledged) but not applied is applied at start."""
    config = make_config(tmp_path, smtp=DOMAINS, verp={"unsigned_bounces": "suppress"})
    store = await open_store(config.storage)
    await store.spool(HARD, "", RCPT, "192.0.2.1:25", FakeClock().now())
    await store.close()
    async with running_daemon(config) as d:
        await d.drained()
        assert await d.store.get_suppression("jane.doe@example.org") is not None


class ExplodingAttributor:
    """A sending side whose lookup keeps failing (say, its database is unreachable)."""

    def __init__(self) -> None:
        self.calls = 0

    async def attribute(self, intake: IntakeMessage, parsed: ParsedMessage) -> None:
        self.calls += 1
        raise RuntimeError("delivery lookup unavailable")


async def test_intake_that_keeps_failing_is_quarantined_after_three_attempts(tmp_path: Path) -> None:
    config = make_config(tmp_path, smtp=DOMAINS)
    store = await open_store(config.storage)
    try:
        intake_id = await store.spool(HARD, "", RCPT, "192.0.2.1:25", FakeClock().now())
        attributor = ExplodingAttributor()
        settings = ProcessorSettings(retry_delay=0.01)
        processor = Processor(store, config, FakeClock(), attributor, settings=settings)
        await processor.start()
        await processor.drained(timeout=10)
        await processor.stop()
        intake = await store.get_intake(intake_id)
        assert intake is not None
        assert intake.state is IntakeState.FAILED
        assert intake.attempts == 3 == attributor.calls
        assert intake.error is not None and "delivery lookup unavailable" in intake.error
        assert intake.raw == HARD
    finally:
        await store.close()


OVERRIDE = """
[[classify.overrides]]
name = "unknown users are only soft here"
reason = "userunknown"
kind = "soft"
"""


def write_config(path: Path, port: int, db: Path, extra: str = "") -> None:
    path.write_text(
        f'[smtp]\nlisten = "127.0.0.1:{port}"\ndomains = ["bounces.example.com"]\n'
        f'[storage]\npath = "{db}"\n[verp]\nunsigned_bounces = "suppress"\n{extra}'
    )


async def test_reload_applies_new_classification_rules_and_keeps_old_on_error(tmp_path: Path) -> None:
    path = tmp_path / "bounced.toml"
    write_config(path, 0, tmp_path / "db.sqlite3")
    daemon = Daemon(load_config(path), notifier=Notifier(""))
    await daemon.start()
    try:
        write_config(path, 0, tmp_path / "db.sqlite3", OVERRIDE)
        assert await daemon.reload()
        await send_mail(daemon.smtp_port, "", RCPT, HARD)
        await daemon.processor.drained()
        (event,) = await daemon.store.events_for("jane.doe@example.org")
        assert event.kind is BounceKind.SOFT
        path.write_text("[smtp]\nmax_recipients = 'many'\n")
        assert not await daemon.reload()
        assert daemon.config.classify.overrides[0].kind == "soft"  # old config kept
    finally:
        await daemon.stop()


async def test_reload_without_a_file_keeps_running(tmp_path: Path) -> None:
    async with running_daemon(make_config(tmp_path, smtp=DOMAINS)) as d:
        assert not await d.daemon.reload()
        await send_mail(d.smtp_port, "", RCPT, SOFT)
        await d.drained()


async def test_port_in_use_is_an_oserror_and_leaves_nothing_running(tmp_path: Path) -> None:
    config = make_config(tmp_path, smtp=DOMAINS)
    async with running_daemon(config) as d:
        clash = make_config(tmp_path / "x", smtp={**DOMAINS, "listen": f"127.0.0.1:{d.smtp_port}"})
        (tmp_path / "x").mkdir()
        second = Daemon(clash, notifier=Notifier(""))
        with pytest.raises(OSError):
            await second.start()


async def test_reload_cannot_open_a_public_listener_to_every_domain(tmp_path: Path) -> None:
    path = tmp_path / "bounced.toml"
    path.write_text('[smtp]\nlisten = "0.0.0.0:2525"\ndomains = ["bounces.example.com"]\n')
    daemon = Daemon(load_config(path), notifier=Notifier(""))  # not started: no socket needed
    # The new file is valid on its own (loopback, any domain), but the running socket is public.
    path.write_text('[smtp]\nlisten = "127.0.0.1:2525"\ndomains = []\n')
    assert not await daemon.reload()
    assert daemon.config.smtp.domains == ["bounces.example.com"]
    assert daemon.config.smtp.listen == "0.0.0.0:2525"


async def test_reload_changes_accepted_domains_for_the_next_rcpt_on_an_open_connection(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bounced.toml"
    write_config(path, 0, tmp_path / "db.sqlite3")
    daemon = Daemon(load_config(path), notifier=Notifier(""))
    await daemon.start()
    try:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=daemon.smtp_port, start_tls=False)
        async with client:
            await client.ehlo()
            path.write_text(path.read_text().replace('"bounces.example.com"', '"returns.example.net"'))
            assert await daemon.reload()
            refused, _ = await client.sendmail("", ["a@bounces.example.com", "a@returns.example.net"], HARD)
            assert list(refused) == ["a@bounces.example.com"]
        assert daemon.config.smtp.normalised_domains == ("returns.example.net",)
    finally:
        await daemon.stop()
