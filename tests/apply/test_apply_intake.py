"""apply_intake end to end on a real store: real parser, real classifier, real SQLite."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from bounced.apply.batch import ApplyResult, apply_intake
from bounced.clock import FakeClock
from bounced.config import Config
from bounced.config.loader import build
from bounced.logfmt import LogfmtFormatter
from bounced.model import (
    Attribution,
    BounceKind,
    IntakeMessage,
    IntakeState,
    MessageType,
    ParsedMessage,
    ProfileStatus,
)
from bounced.store.sqlite import SQLiteStore
from tests.apply.bounce_messages import arf, dsn, plain
from tests.rawsql import rows
from tests.store_helpers import is_suppressed

RECEIVED = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


class FixedAttributor:
    """Attributes every bounce to one delivery, as a verified VERP token would."""

    def __init__(self, attribution: Attribution | None) -> None:
        self.attribution = attribution
        self.seen: list[int] = []

    async def attribute(self, intake: IntakeMessage, parsed: ParsedMessage) -> Attribution | None:
        self.seen.append(intake.id)
        return self.attribution


def config(unsigned: str = "record") -> Config:
    return build(Config, {"verp": {"unsigned_bounces": unsigned}})


async def spool_and_apply(
    store: SQLiteStore, raw: bytes, cfg: Config, attributor: FixedAttributor | None = None
) -> ApplyResult:
    intake_id = await store.spool(raw, "", ["b-tok@bounces.sender.test"], "127.0.0.1", RECEIVED)
    intake = await store.get_intake(intake_id)
    assert intake is not None
    return await apply_intake(store, intake, cfg, FakeClock(RECEIVED), attributor)


async def test_unsigned_hard_bounce_is_recorded_not_suppressed(store: SQLiteStore) -> None:
    raw = dsn(
        "Gone@Example.ORG", "5.1.1", "550 5.1.1 <Gone@example.org>: Recipient address rejected: User unknown"
    )
    result = await spool_and_apply(store, raw, config("record"))
    assert result.state is IntakeState.APPLIED and result.message_type is MessageType.DSN
    [event] = result.written
    assert (event.kind, event.reason.value, event.status) == (BounceKind.HARD, "userunknown", "5.1.1")
    assert event.recipient == "Gone@example.org" and not event.suppress
    assert event.mailing_id == "spring-2026" and event.from_domain == "sender.test"
    assert result.suppressed == ()
    assert not await is_suppressed(store, "Gone@example.org")
    profile = await store.get_profile("Gone@example.org")
    assert profile is not None and profile.status is ProfileStatus.ACTIVE and profile.hard_bounce_count == 1
    intake = await store.get_intake(result.intake_id)
    assert intake is not None and intake.state is IntakeState.APPLIED


async def test_unsigned_hard_bounce_suppresses_under_suppress_policy(store: SQLiteStore) -> None:
    raw = dsn("gone@example.org", "5.1.1", "550 5.1.1 User unknown")
    result = await spool_and_apply(store, raw, config("suppress"))
    assert result.suppressed == ("gone@example.org",)
    profile = await store.get_profile("gone@example.org")
    assert profile is not None and profile.status is ProfileStatus.HARD_BOUNCED
    entry = await store.get_suppression("gone@EXAMPLE.org")
    assert entry is not None and entry.reason == "userunknown" and entry.created_by == "bounce"


async def test_signed_hard_bounce_suppresses_the_token_recipient(store: SQLiteStore) -> None:
    attribution = Attribution(
        recipient="ann@example.org", delivery_id=12, mailing_id="m-12", sending_ip="192.0.2.9", signed=True
    )
    attributor = FixedAttributor(attribution)
    raw = dsn("ann@example.org", "5.1.1", "550 5.1.1 No such user")
    result = await spool_and_apply(store, raw, config("record"), attributor)
    assert attributor.seen == [result.intake_id]
    assert result.suppressed == ("ann@example.org",)
    [event] = await store.events_for("ann@example.org")
    assert (
        event.signed
        and event.delivery_id == 12
        and event.mailing_id == "m-12"
        and event.sending_ip == "192.0.2.9"
    )


async def test_soft_bounce_with_delivery_is_pending_resend(store: SQLiteStore) -> None:
    attribution = Attribution(recipient="full@example.org", delivery_id=33, signed=True)
    raw = dsn("full@example.org", "4.2.2", "452 4.2.2 Mailbox full", action="delayed")
    result = await spool_and_apply(store, raw, config("suppress"), FixedAttributor(attribution))
    [event] = result.written
    assert event.kind is BounceKind.SOFT and not event.suppress and result.suppressed == ()
    assert not await is_suppressed(store, "full@example.org")
    profile = await store.get_profile("full@example.org")
    assert profile is not None and profile.soft_bounce_count == 1 and profile.status is ProfileStatus.ACTIVE
    [row] = await rows(store, "SELECT delivery_id, resend_state FROM bounce_events WHERE id = ?", event.id)
    assert row == (33, "pending")


async def test_complaint_suppresses_with_reason_complaint_when_signed(store: SQLiteStore) -> None:
    attribution = Attribution(recipient="angry@example.org", delivery_id=4, signed=True)
    result = await spool_and_apply(store, arf("angry@example.org"), config(), FixedAttributor(attribution))
    assert result.message_type is MessageType.ARF
    [event] = result.written
    assert event.kind is BounceKind.COMPLAINT
    entry = await store.get_suppression("angry@example.org")
    assert entry is not None and entry.reason == "complaint" and entry.created_by == "complaint"


@pytest.mark.parametrize("withheld", ["undisclosed-recipients:;", "redacted@isp.example"])
async def test_a_complaint_with_the_recipient_withheld_is_recorded_never_suppressed(
    store: SQLiteStore, withheld: str
) -> None:
    result = await spool_and_apply(store, arf(withheld), config("suppress"))
    assert result.state is IntakeState.APPLIED and result.message_type is MessageType.ARF
    [event] = result.written  # the complaint is kept ...
    assert (event.kind, event.suppress) == (BounceKind.COMPLAINT, False)
    assert result.suppressed == ()  # ... and suppresses no placeholder, however "suppress" reads
    assert not await is_suppressed(store, event.recipient)


async def test_a_withheld_complaint_suppresses_the_address_its_token_names(store: SQLiteStore) -> None:
    attribution = Attribution(recipient="angry@example.org", delivery_id=4, signed=True)
    raw = arf("undisclosed-recipients:;")
    result = await spool_and_apply(store, raw, config(), FixedAttributor(attribution))
    [event] = result.written
    assert (event.recipient, event.kind, event.suppress) == ("angry@example.org", BounceKind.COMPLAINT, True)
    entry = await store.get_suppression("angry@example.org")
    assert entry is not None and entry.reason == "complaint"


async def test_same_bounce_twice_is_applied_and_counted_once(store: SQLiteStore) -> None:
    raw = dsn("twice@example.org", "5.1.1", "550 5.1.1 User unknown")
    first = await spool_and_apply(store, raw, config("suppress"))
    second = await spool_and_apply(store, raw, config("suppress"))
    assert len(first.written) == 1 and second.written == () and second.duplicates == 1
    assert second.state is IntakeState.APPLIED
    profile = await store.get_profile("twice@example.org")
    assert profile is not None and profile.bounce_count == 1


async def test_ordinary_mail_is_type_none_and_applied(store: SQLiteStore) -> None:
    result = await spool_and_apply(store, plain(), config())
    assert result.state is IntakeState.APPLIED and result.message_type is MessageType.NONE
    assert result.events == ()
    intake = await store.get_intake(result.intake_id)
    assert intake is not None and intake.state is IntakeState.APPLIED


@pytest.mark.parametrize("raw", [b"", b"\r\n\r\n", bytes(range(256)) * 4, b"\x00\x01\x02binary junk\xff"])
async def test_junk_is_unparseable_and_kept(store: SQLiteStore, raw: bytes) -> None:
    result = await spool_and_apply(store, raw, config())
    assert result.state is IntakeState.UNPARSEABLE and result.error
    intake = await store.get_intake(result.intake_id)
    assert intake is not None and intake.state is IntakeState.UNPARSEABLE and intake.raw == raw
    assert await store.pending_intake() == []


async def test_one_key_value_log_line_per_bounce(
    store: SQLiteStore, caplog: pytest.LogCaptureFixture
) -> None:
    raw = dsn("logme@example.org", "5.1.1", "550 5.1.1 User unknown")
    with caplog.at_level(logging.INFO, logger="bounced.apply"):
        result = await spool_and_apply(store, raw, config("suppress"))
    formatter = LogfmtFormatter(with_time=False)
    lines = [formatter.format(r).split(" ", 2)[2] for r in caplog.records if r.name == "bounced.apply"]
    assert lines == [
        f"event=bounce kind=hard reason=userunknown recipient=logme@example.org status=5.1.1 "
        f"intake={result.intake_id} suppressed=yes signed=no"
    ]


async def test_each_bounce_of_a_resent_message_counts(store: SQLiteStore) -> None:
    # The same original message sent three times (resends keep its Message-ID), soft-bounced
    # three times: three bounce messages, three events. The first bounce retransmitted: one.
    results = []
    for attempt in range(3):
        raw = dsn(
            "kim@example.org", "4.2.2", "452 4.2.2 Mailbox full", "delayed", bounce_id=f"<b{attempt}@mx>"
        )
        results.append(await spool_and_apply(store, raw, config()))
        if attempt == 0:
            results.append(await spool_and_apply(store, raw, config()))
    assert [len(r.written) for r in results] == [1, 0, 1, 1]
    assert results[1].duplicates == 1
    profile = await store.get_profile("kim@example.org")
    assert profile is not None and profile.soft_bounce_count == 3


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"From: a@b\r\nMessage-ID: <x.1@mx>\r\n\r\nbody", "<x.1@mx>"),
        (b"message-id:\r\n   <folded@mx>\r\nSubject: s\r\n\r\n", "<folded@mx>"),
        (b"From: a@b\r\n\r\nMessage-ID: <in-body@mx>\r\n", None),  # the body is not the header
        (b"From: a@b\n\nno id", None),
    ],
)
def test_bounce_message_id_reads_the_bounce_header_only(raw: bytes, expected: str | None) -> None:
    from bounced.apply.analyse import bounce_message_id

    assert bounce_message_id(raw) == expected
