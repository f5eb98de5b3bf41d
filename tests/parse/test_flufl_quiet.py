"""flufl.bounce logs each detector at INFO and the crashes we get past at ERROR with a
traceback; under the daemon's logging neither reaches the log, and our own lines do."""

from __future__ import annotations

import logging

import pytest

from bounced.logfmt import configure_logging
from bounced.parse import parse_message

# A bounce that names nobody: the prose heuristic finds nothing, so flufl.bounce's run.
PROSE_ONLY = b"From: MAILER-DAEMON@mx.example\nTo: b@sender.example\nSubject: Undeliverable\n\nuser unknown\n"


def test_flufl_bounce_is_quiet_under_the_daemon_logging(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logging.getLogger("flufl.bounce").level)
    try:
        configure_logging("DEBUG", with_time=False)
        parse_message(PROSE_ONLY)
        logging.getLogger("bounced.test").info("event=probe n=%d", 1)
        err = capsys.readouterr().err
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.getLogger("flufl.bounce").setLevel(saved[2])
    assert "Running detector" not in err and "Traceback" not in err, err
    assert "event=probe n=1" in err
