"""key=value log lines on stderr (journald keeps them; grep and logfmt tools read them)."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

__all__ = ["LogfmtFormatter", "configure_logging", "kv", "set_level"]


_KV_MESSAGE = re.compile(r"[a-z_]+=\S")


def kv(**fields: Any) -> dict[str, Any]:
    """`log.info("spooled", extra=kv(intake_id=7))` adds `intake_id=7` to the line."""
    return {"kv": fields}


def _quote(value: Any) -> str:
    text = str(value)
    if text and not any(c in text for c in ' "=\n\t\\'):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


class LogfmtFormatter(logging.Formatter):
    def __init__(self, with_time: bool = True) -> None:
        super().__init__()
        self.with_time = with_time

    def format(self, record: logging.LogRecord) -> str:
        parts = []
        if self.with_time:
            parts.append(f"ts={self.formatTime(record, '%Y-%m-%dT%H:%M:%S')}")
        parts += [f"level={record.levelname.lower()}", f"logger={record.name}"]
        message = record.getMessage()
        # Modules that already log key=value pairs ("event=bounce kind=hard ...") stay as they are.
        parts.append(message if _KV_MESSAGE.match(message) else f"msg={_quote(message)}")
        for key, value in getattr(record, "kv", {}).items():
            parts.append(f"{key}={_quote(value)}")
        if record.exc_info:
            parts.append(f"exc={_quote(self.formatException(record.exc_info))}")
        return " ".join(parts)


def configure_logging(level: str, with_time: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogfmtFormatter(with_time=with_time))
    logging.getLogger().handlers[:] = [handler]
    set_level(level)


def set_level(level: str) -> None:
    root = logging.getLogger()
    root.setLevel(level.upper())
    # aiosmtpd logs every command at INFO: far too chatty (and slow) for a busy MX.
    logging.getLogger("mail.log").setLevel(max(logging.WARNING, root.level))
    # flufl.bounce logs "Running detector" at INFO for each detector of each message, and a
    # traceback at ERROR for a detector crash that bounced.parse catches and gets past.
    logging.getLogger("flufl.bounce").setLevel(logging.CRITICAL)
