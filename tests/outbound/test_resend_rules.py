"""Pure retry-rule tests: schedules, caps, jitter, age, greylisting, matching, config errors."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bounced.config import load_config
from bounced.config.loader import build
from bounced.config.resend import ResendConfig, RetryRuleConfig
from bounced.errors import ConfigError
from bounced.model import BounceEvent, BounceKind, Delivery, DeliveryState, Reason
from bounced.outbound.rules import GiveUp, delay_for, match_rule, next_attempt

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def delivery(attempts: int = 1, created_at: datetime = T0, recipient: str = "u@example.com") -> Delivery:
    return Delivery(
        id=1,
        message_id=1,
        recipient=recipient,
        sending_ip=None,
        state=DeliveryState.SOFT_BOUNCED,
        attempts=attempts,
        created_at=created_at,
    )


def event(recipient: str = "u@example.com", **kw: object) -> BounceEvent:
    fields: dict[str, object] = dict(
        recipient=recipient,
        kind=BounceKind.SOFT,
        reason=Reason.MAILBOXFULL,
        received_at=T0,
        status="4.2.2",
        reply_code=452,
        diagnostic="452 4.2.2 Mailbox full",
    )
    fields.update(kw)
    return BounceEvent(**fields)  # type: ignore[arg-type]


def seconds_after(due: datetime | GiveUp, now: datetime) -> float:
    assert isinstance(due, datetime), due
    return (due - now).total_seconds()


def test_default_rule_is_four_resends_within_a_day() -> None:
    rules = ResendConfig()
    now, total = T0, []
    for attempts in range(1, 5):
        due = next_attempt(delivery(attempts), event(), rules, now, random.Random(1))
        total.append(seconds_after(due, now))
        now = due  # type: ignore[assignment]
    assert total == [1800, 7200, 28800, 43200]
    assert (now - T0) <= timedelta(hours=24)
    gave_up = next_attempt(delivery(5), event(), rules, now, random.Random(1))
    assert gave_up == GiveUp("attempts", "default", 5)


def test_fixed_list_last_delay_repeats() -> None:
    rule = RetryRuleConfig(delays=[10, 60], attempts=5, max_age=10_000)
    assert [delay_for(rule, i, random.Random()) for i in range(4)] == [10, 60, 60, 60]


def test_geometric_with_cap() -> None:
    rule = RetryRuleConfig(first_delay=100, factor=3, max_delay=1000)
    assert [delay_for(rule, i, random.Random()) for i in range(4)] == [100, 300, 900, 1000]


def test_jitter_within_bounds_and_reproducible() -> None:
    rule = RetryRuleConfig(delays=[1000], jitter=0.2)
    rng = random.Random(42)
    values = [delay_for(rule, 0, rng) for _ in range(500)]
    assert all(800 <= v <= 1200 for v in values)
    assert min(values) < 850 and max(values) > 1150  # actually spread
    assert values[:5] == [delay_for(rule, 0, r) for r in [random.Random(42)] for _ in range(5)]


def test_max_age_gives_up() -> None:
    rules = ResendConfig(default=RetryRuleConfig(delays=[3600], attempts=10, max_age=7200))
    assert seconds_after(next_attempt(delivery(1), event(), rules, T0, random.Random()), T0) == 3600
    later = T0 + timedelta(seconds=3601)
    assert next_attempt(delivery(2), event(), rules, later, random.Random()) == GiveUp(
        "max_age", "default", 2
    )


def test_zero_attempts_never_resends() -> None:
    rules = ResendConfig(rules=[RetryRuleConfig(name="never", reason="mesgtoobig", attempts=0)])
    ev = event(reason=Reason.MESGTOOBIG)
    assert next_attempt(delivery(1), ev, rules, T0, random.Random()) == GiveUp("attempts", "never", 1)


def test_greylisting_floor_and_cap() -> None:
    rules = ResendConfig(greylist_margin=5, greylist_max=600, default=RetryRuleConfig(delays=[1], attempts=3))
    grey = event(reason=Reason.GREYLISTED, retry_after=120, status="4.7.1", reply_code=450)
    assert seconds_after(next_attempt(delivery(), grey, rules, T0, random.Random()), T0) == 125
    long = event(reason=Reason.GREYLISTED, retry_after=86400)
    assert seconds_after(next_attempt(delivery(), long, rules, T0, random.Random()), T0) == 600
    # without the built-in greylisting rule the rule's own delay wins when later than the floor
    slow = ResendConfig(greylist_margin=5, greylist_attempts=0, default=RetryRuleConfig(delays=[900]))
    assert seconds_after(next_attempt(delivery(), grey, slow, T0, random.Random()), T0) == 900


def test_builtin_greylisting_rule_wins_then_falls_through() -> None:
    # The example config's default (first_delay 1800) must not delay a "greylisted for 3 s".
    rules = ResendConfig(greylist_margin=5, greylist_attempts=2)
    grey = event(reason=Reason.GREYLISTED, retry_after=3, status="4.7.1", reply_code=450)
    assert seconds_after(next_attempt(delivery(1), grey, rules, T0, random.Random()), T0) == 8
    assert seconds_after(next_attempt(delivery(2), grey, rules, T0, random.Random()), T0) == 8
    # its 2 resends used up: the default rule (1800 s, then x4) decides, floor still applied
    assert seconds_after(next_attempt(delivery(3), grey, rules, T0, random.Random()), T0) == 1800 * 4**2


def test_configured_greylisted_rule_overrides_the_builtin_one() -> None:
    own = RetryRuleConfig(name="grey-own", reason="greylisted", delays=[60], attempts=1)
    rules = ResendConfig(greylist_margin=5, rules=[own])
    grey = event(reason=Reason.GREYLISTED, retry_after=3)
    assert seconds_after(next_attempt(delivery(1), grey, rules, T0, random.Random()), T0) == 60
    assert next_attempt(delivery(2), grey, rules, T0, random.Random()) == GiveUp("attempts", "grey-own", 2)


def test_first_match_wins_and_matchers_combine() -> None:
    rules = build(
        ResendConfig,
        {
            "rules": [
                {"name": "yahoo-full", "domains": ["*.yahoo.com"], "reason": "mailboxfull", "delays": [1]},
                {"name": "yahoo", "domains": ["yahoo.com", "*.yahoo.com"], "delays": [2]},
                {"name": "45x-rate", "reply_code": "45*", "diagnostic": "rate ?limit", "delays": [3]},
                {"name": "4.2.x", "status": "4.2.*", "delays": [4]},
            ]
        },
        "resend",
    )
    assert match_rule(event("a@mx.yahoo.com"), rules).name == "yahoo-full"
    assert match_rule(event("a@yahoo.com"), rules).name == "yahoo"  # "*." means subdomains only
    assert match_rule(event("a@mx.yahoo.com", reason=Reason.SYSTEMFULL), rules).name == "yahoo"
    assert match_rule(event("a@notyahoo.com"), rules).name == "4.2.x"
    assert (
        match_rule(event("a@x.org", diagnostic="451 Rate Limit exceeded", reply_code=451), rules).name
        == "45x-rate"
    )
    assert match_rule(event("a@x.org", diagnostic="451 Rate Limit", reply_code=551), rules).name == "4.2.x"
    other = event("a@x.org", status="4.4.1", reply_code=421, diagnostic="timeout")
    assert match_rule(other, rules) is rules.default
    assert match_rule(event("a@x.org", status=None), rules) is rules.default


@pytest.mark.parametrize(
    ("rule", "key"),
    [
        ({"diagnostic": "(unclosed"}, "resend.rules[1].diagnostic"),
        ({"attempts": -1}, "resend.rules[1].attempts"),
        ({"delays": [10, -5]}, "resend.rules[1].delays[1]"),
        ({"factor": 0.5}, "resend.rules[1].factor"),
        ({"jitter": 1.0}, "resend.rules[1].jitter"),
        ({"jitter": -0.1}, "resend.rules[1].jitter"),
        ({"max_age": -1}, "resend.rules[1].max_age"),
        ({"status": "4.x.1"}, "resend.rules[1].status"),
        ({"domains": ["*"]}, "resend.rules[1].domains[0]"),
        ({"delays": ["2m"]}, "resend.rules[1].delays[0]"),
    ],
)
def test_bad_rules_name_the_key(tmp_path: Path, rule: dict[str, object], key: str) -> None:
    def toml_value(v: object) -> str:
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\") + '"'
        if isinstance(v, list):
            return "[" + ", ".join(toml_value(x) for x in v) + "]"
        return str(v)

    body = "\n".join(f"{k} = {toml_value(v)}" for k, v in rule.items())
    path = tmp_path / "bounced.toml"
    path.write_text(f'[[resend.rules]]\nname = "ok"\n\n[[resend.rules]]\n{body}\n')
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert exc.value.key == key, str(exc.value)
