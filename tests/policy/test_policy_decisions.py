"""The pure policy decisions: guard, soft thresholds, address normal form, preset."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bounced.apply.guard import GuardGroup, decide_guard, groups_of
from bounced.apply.policy import SISIMAI_HARD_REASONS, hard_reasons_for
from bounced.apply.thresholds import soft_threshold_hit
from bounced.config import Config, GuardConfig, SoftThreshold
from bounced.config.loader import build
from bounced.errors import ConfigError
from bounced.model import BounceEvent, BounceKind, Reason, address_key
from tests.events import keyed

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def hard(rcpt: str, text: str = "550 5.1.1 <x>: user unknown", ip: str | None = None) -> BounceEvent:
    return keyed(BounceEvent(
        rcpt, BounceKind.HARD, Reason.USERUNKNOWN, T0, diagnostic=text, reply_code=550, sending_ip=ip,
        suppress=True,
    ))  # fmt: skip


def soft(rcpt: str, minutes: float, reason: Reason = Reason.MAILBOXFULL, signed: bool = True) -> BounceEvent:
    return keyed(BounceEvent(
        rcpt, BounceKind.SOFT, reason, T0 + timedelta(minutes=minutes), diagnostic="452 4.2.2 full",
        signed=signed,
    ))  # fmt: skip


def test_address_key_folds_local_part_unless_told_not_to() -> None:
    assert address_key(" <UNKNOWN1@DEST.EXAMPLE.> ") == "unknown1@dest.example"
    assert address_key("UNKNOWN1@DEST.EXAMPLE", fold_local_case=False) == "UNKNOWN1@dest.example"
    assert address_key("Ünïcode@X.example") == "Ünïcode@x.example"  # ASCII only, like SQLite lower()


def test_group_keys_ignore_the_address_in_the_text() -> None:
    a = groups_of(hard("a@big.example", "550 5.1.1 <a@big.example>: user unknown", ip="192.0.2.1"))
    b = groups_of(hard("b@BIG.example", "550 5.1.1 <b@big.example>: user unknown", ip="192.0.2.1"))
    assert a == b and [g.scope for g in a] == ["domain", "ip"]
    assert groups_of(soft("a@big.example", 0)) == ()


def test_guard_trips_at_the_threshold_and_holds_the_whole_batch() -> None:
    cfg = GuardConfig(threshold=10, window=600)
    batch = [hard(f"u{i}@big.example", f"550 5.1.1 <u{i}@big.example>: user unknown") for i in range(4)]
    batch.append(hard("z@big.example", "550 5.1.1 mailbox closed for good"))
    group = groups_of(batch[0])[0]
    assert decide_guard(batch, {group: 5}, set(), cfg).quarantined == ()  # 9 < 10
    decision = decide_guard(batch, {group: 6}, set(), cfg)  # 10: trips
    assert decision.tripped == (group,) and decision.quarantined == (0, 1, 2, 3)
    # already active: held without a new trip (one alert per trip)
    again = decide_guard(batch[:1], {group: 0}, {group}, cfg)
    assert again.tripped == () and again.quarantined == (0,) and again.touched == (group,)
    assert decide_guard(batch, {group: 100}, set(), GuardConfig(enabled=False)).quarantined == ()


def test_guard_counts_only_what_would_suppress() -> None:
    # forged unsigned bounces (recorded, never suppressing) cannot trip the guard
    unsigned = [replace(hard(f"u{i}@big.example"), suppress=False) for i in range(300)]
    assert decide_guard(unsigned, {}, set(), GuardConfig()) == decide_guard([], {}, set(), GuardConfig())
    signed = hard("s@big.example")
    group = groups_of(signed)[0]
    decision = decide_guard([*unsigned, signed], {group: 199}, set(), GuardConfig())
    assert decision.tripped == (group,) and decision.quarantined == (300,)


def test_soft_threshold_window_reset_and_signature() -> None:
    rule = SoftThreshold(count=3, window=3600)
    three = [soft("a@x.example", m) for m in (0, 20, 50)]
    assert soft_threshold_hit(three, None, [rule], "record") is not None
    assert soft_threshold_hit([soft("a@x.example", m) for m in (0, 20, 70)], None, [rule], "record") is None
    # a delivery in between resets the count
    assert soft_threshold_hit(three, T0 + timedelta(minutes=10), [rule], "record") is None
    unsigned = [replace(e, signed=False) for e in three]
    assert soft_threshold_hit(unsigned, None, [rule], "record") is None
    assert soft_threshold_hit(unsigned, None, [rule], "suppress") is not None
    grey = [soft("a@x.example", m, Reason.GREYLISTED) for m in (0, 1, 2)]
    assert soft_threshold_hit(grey, None, [rule], "record") is None  # only where a rule names it
    named = SoftThreshold(count=3, window=3600, reasons=["greylisted"], name="grey")
    hit = soft_threshold_hit(grey, None, [named], "record")
    assert hit is not None and hit.rule == "grey" and hit.event == grey[-1]


def test_soft_threshold_per_domain() -> None:
    rule = SoftThreshold(count=2, window=3600, domains=["*.example.com"])
    assert soft_threshold_hit([soft("a@mx.example.com", m) for m in (0, 1)], None, [rule], "record")
    assert soft_threshold_hit([soft("a@example.com", m) for m in (0, 1)], None, [rule], "record") is None


def test_conservative_preset_reasons() -> None:
    assert hard_reasons_for("default") is None
    assert hard_reasons_for("conservative") == SISIMAI_HARD_REASONS
    assert Reason.SUSPEND not in SISIMAI_HARD_REASONS and Reason.USERUNKNOWN in SISIMAI_HARD_REASONS


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"policy": {"local_part_case": "upper"}}, "policy.local_part_case"),
        ({"policy": {"guard": {"threshold": 1}}}, "policy.guard.threshold"),
        ({"policy": {"soft_thresholds": [{"count": 0}]}}, "policy.soft_thresholds[0].count"),
        ({"policy": {"soft_thresholds": [{"reasons": ["nope"]}]}}, "policy.soft_thresholds[0].reasons[0]"),
        ({"classify": {"preset": "strict"}}, "classify.preset"),
        ({"resend": {"greylist_attempts": -1}}, "resend.greylist_attempts"),
    ],
)
def test_bad_policy_settings_name_the_key(section: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as exc:
        build(Config, section)
    assert exc.value.key == key


def test_guard_group_is_a_plain_tuple_for_the_store() -> None:
    assert GuardGroup("domain", "x", "t") == ("domain", "x", "t")


def test_policy_reads_the_effective_unsigned_policy_not_the_raw_setting() -> None:
    """Default `unsigned_bounces = "auto"`: unsigned bounces suppress until a key is set, so
    the simulation (like apply) suppresses them then, and stops once a key is configured."""
    from bounced.apply.simulate import reclassify, would_suppress

    unsigned = replace(hard("dead@example.org"), signed=False)
    keyless = Config()
    keyed = replace(keyless, verp=replace(keyless.verp, keys={"k1": "k1-secret-0123456789abcdef"}))
    assert keyless.verp.unsigned_bounces == "auto"
    assert would_suppress(unsigned, reclassify(unsigned, keyless), keyless)
    assert not would_suppress(unsigned, reclassify(unsigned, keyed), keyed)
