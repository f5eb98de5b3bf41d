"""[[brokers]] settings: every wrong key named with the form expected, the URL's password never
echoed, one name space with [[webhooks]]; `check-config` connects and warns about a broker
that refuses (serve would still start: the events wait in the outbox)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bounced.config import parse_config
from bounced.errors import ConfigError, ConfigErrors
from tests.brokers.rabbit import RabbitQueue, rabbit_url
from tests.test_check_config import check

SECRET = "pw-that-must-not-show-0123"


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    found = caught.value.problems if isinstance(caught.value, ConfigErrors) else (caught.value,)
    return [str(p) for p in found]


def test_every_wrong_setting_is_named_with_its_expected_form() -> None:
    found = problems(
        f'[[brokers]]\nname = "rabbit mq"\nurl = "http://guest:{SECRET}@127.0.0.1/"\n'
        'exchange = "amq.topic"\nrouting_key_prefix = "a b"\nevents = ["hard_bounce", "bounced"]\n'
        "max_unconfirmed = 0\ntimeout = 0\n"
    )
    assert found == [
        "brokers[0].name: expected 1-64 characters A-Z a-z 0-9 _ . -, got 'rabbit mq'",
        "brokers[0].url: expected amqp://user:password@host:port/vhost (or amqps://),"
        " got 'http://guest:***@127.0.0.1/'",
        "brokers[0].exchange: expected 1-255 characters A-Z a-z 0-9 _ . : - not starting with 'amq.'"
        " (reserved), got 'amq.topic'",
        "brokers[0].routing_key_prefix: expected up to 200 characters A-Z a-z 0-9 _ . : -, got 'a b'",
        "brokers[0].events[1]: expected one of hard_bounce, soft_bounce, complaint, autoreply,"
        " suppression_added, suppression_removed, non_delivery, delivered, guard_tripped, got 'bounced'",
        "brokers[0].max_unconfirmed: expected an integer in [1, 10000], got 0",
        "brokers[0].timeout: expected seconds in (0, 300], got 0.0",
    ]
    assert not any(SECRET in p for p in found)


def test_a_broker_needs_a_name_and_may_not_share_a_hooks() -> None:
    assert problems(f'[[brokers]]\nurl = "{rabbit_url()}"\n') == [
        "brokers[0].name: expected 1-64 characters A-Z a-z 0-9 _ . -, got ''"
    ]
    text = (
        '[[webhooks]]\nurl = "https://platform.example/hooks"\nsecret = "whsec-0123456789abcdef"\n'
        'name = "events"\n'
        f'[[brokers]]\nname = "rabbit"\nurl = "{rabbit_url()}"\n'
        f'[[brokers]]\nname = "events"\nurl = "{rabbit_url()}"\n'
    )
    assert problems(text) == [
        "brokers[1].name: 'events' is used by an earlier hook or broker: give each a name"
    ]


def test_defaults() -> None:
    config = parse_config(f'[[brokers]]\nname = "rabbit"\nurl = "{rabbit_url()}"\n')
    (broker,) = config.brokers
    assert (broker.exchange, broker.routing_key_prefix, broker.mandatory) == (
        "bounced.events",
        "bounced.",
        False,
    )
    assert len(broker.events) == 9 and config.event_sinks == [("rabbit", broker.events)]


async def test_check_config_connects_and_warns_without_the_password(
    tmp_path: Path, rabbit: RabbitQueue
) -> None:
    def text(url: str) -> str:
        storage = f'[storage]\npath = "{tmp_path}/b.sqlite3"\n'
        return f'{storage}[[brokers]]\nname = "rabbit"\nurl = "{url}"\nexchange = "{rabbit.exchange}"\n'

    ok = await asyncio.to_thread(check, tmp_path, text(rabbit_url()))
    assert ok.returncode == 0 and "warning: brokers" not in ok.stdout, ok.stdout + ok.stderr
    refused = await asyncio.to_thread(check, tmp_path, text(rabbit_url(password=SECRET)))
    assert refused.returncode == 0  # serve would start: the events wait in the outbox
    (line,) = [x for x in refused.stdout.splitlines() if x.startswith("warning: brokers[0]")]
    assert "(rabbit, amqp://guest:***@127.0.0.1:5672/, exchange " in line and "ACCESS_REFUSED" in line
    assert SECRET not in refused.stdout + refused.stderr
