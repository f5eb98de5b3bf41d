"""Run a command with one of its output streams on a pseudo-terminal, as an operator's
terminal would be (`isatty()` true, a size), and read what it showed there."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import termios
from collections.abc import Sequence

__all__ = ["run_on_terminal"]


def run_on_terminal(
    argv: Sequence[str], stream: str, columns: int = 120, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run `argv` with `stream` ("stdout" or "stderr") on a terminal `columns` wide and the
    other captured; returns the result and the terminal's text (CRLF as LF)."""
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    other = "stderr" if stream == "stdout" else "stdout"
    try:
        result = subprocess.run(
            list(argv), text=True, timeout=60, check=False, env=env, **{stream: child, other: subprocess.PIPE}
        )  # type: ignore[call-overload]
        os.close(child)
        child = -1
        seen = b""
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: every writer is gone and the buffer is drained
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(main)
        if child != -1:
            os.close(child)
    return result, seen.decode("utf-8", "replace").replace("\r\n", "\n")
