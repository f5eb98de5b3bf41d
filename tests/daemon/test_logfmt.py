"""Log lines are key=value pairs a machine can split again."""

from __future__ import annotations

import logging
import shlex
import sys

from bounced.logfmt import LogfmtFormatter, kv


def line(msg: str, *args: object, exc: bool = False, **fields: object) -> str:
    record = logging.LogRecord("bounced.test", logging.WARNING, __file__, 1, msg, args, None)
    record.__dict__.update(kv(**fields))
    if exc:
        try:
            raise ValueError("boom")
        except ValueError:
            record.exc_info = sys.exc_info()
    return LogfmtFormatter(with_time=False).format(record)


def test_fields_are_quoted_only_when_needed_and_split_back() -> None:
    text = line("spool failed", peer="192.0.2.1:25", error='disk "full"\nnow', size=12)
    assert text.startswith("level=warning logger=bounced.test ")
    pairs = dict(p.split("=", 1) for p in shlex.split(text))
    assert pairs == {
        "level": "warning", "logger": "bounced.test", "msg": "spool failed",
        "peer": "192.0.2.1:25", "error": 'disk "full"\\nnow', "size": "12",
    }  # fmt: skip


def test_messages_already_in_key_value_form_are_kept() -> None:
    assert line("event=bounce kind=%s", "hard") == "level=warning logger=bounced.test event=bounce kind=hard"


def test_exceptions_stay_on_one_line() -> None:
    text = line("failed", exc=True)
    assert "\n" not in text and "ValueError: boom" in text


def test_the_suite_wide_line_check_rejects_what_breaks_the_format() -> None:
    from tests.logcheck import LINE

    assert LINE.match('ts=2026-12-02T04:39:02 level=warning logger=bounced.x event=a error="b c" n=1')
    for bad in (
        'level=warning logger=bounced.x event=batch_failed error="x"; recording one by one',
        "level=error logger=bounced.x event=quarantined error=x\nTraceback (most recent call last):",
        "level=info logger=bounced.x msg=two words",
    ):
        assert not LINE.match(bad), bad
