"""Every log line the suite's in-process code emits must be one logfmt line (issue: one
logging convention). A handler on the root logger formats each record with bounced's own
formatter and keeps those that do not parse; the autouse fixture in conftest fails the test."""

from __future__ import annotations

import logging
import re

from bounced.logfmt import LogfmtFormatter

__all__ = ["LINE", "LogLineCheck"]

# key=value pairs separated by single spaces; a value is bare (no space, quote or =) or quoted.
_PAIR = r'[A-Za-z_][\w.\-]*=(?:"(?:[^"\\\n]|\\.)*"|[^\s"=]*)'
LINE = re.compile(rf"^{_PAIR}(?: {_PAIR})*$")


class LogLineCheck(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.formatter_ = LogfmtFormatter(with_time=True)
        self.bad: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith("bounced"):
            return  # third-party loggers keep their own words; ours must be logfmt
        line = self.formatter_.format(record)
        if not LINE.match(line):
            self.bad.append(line)
