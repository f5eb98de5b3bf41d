"""One figures file for every benchmark: `docs/figures.md`.

A benchmark run with `--figures` rewrites its own section's "latest run" block there (date,
load, the command, and what it printed: medians and ratios against its peer); the rest of
the file (the summary table, the history) is edited by hand. The other docs link to the
file instead of restating its numbers.

    if __name__ == "__main__":
        raise SystemExit(figures.run(main, "parse_speed"))
"""

from __future__ import annotations

import io
import os
import re
import shlex
import sys
from collections.abc import Callable
from contextlib import redirect_stdout
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["FIGURES", "run", "update"]

FIGURES = Path(__file__).resolve().parent.parent / "docs" / "figures.md"
_FLAG = "--figures"


class _Tee(io.TextIOBase):
    def __init__(self, out: io.TextIOBase) -> None:
        self.out = out
        self.seen = io.StringIO()

    def write(self, text: str) -> int:
        self.seen.write(text)
        return self.out.write(text)

    def flush(self) -> None:
        self.out.flush()


def run(main: Callable[[], int | None], section: str) -> int | None:
    """Run `main` (which parses sys.argv); with `--figures`, its output becomes the latest
    run of `section` in docs/figures.md when it succeeds."""
    if _FLAG not in sys.argv:
        return main()
    sys.argv.remove(_FLAG)
    command = ".venv/bin/python " + " ".join(
        shlex.quote(a) for a in [os.path.relpath(sys.argv[0], FIGURES.parent.parent), *sys.argv[1:]]
    )
    tee = _Tee(sys.stdout)  # type: ignore[arg-type]  # sys.stdout is a TextIOWrapper
    with redirect_stdout(tee):
        code = main()
    if not code:
        update(section, command, tee.seen.getvalue())
        print(f"figures: {section} updated in {FIGURES}")
    return code


def update(section: str, command: str, output: str, path: Path = FIGURES) -> None:
    """Replace the block between `<!-- latest:SECTION -->` and `<!-- /latest:SECTION -->`."""
    text = path.read_text(encoding="utf-8")
    start, end = f"<!-- latest:{section} -->", f"<!-- /latest:{section} -->"
    if start not in text or end not in text:
        raise SystemExit(f"{path}: no {start} ... {end} block for this benchmark")
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = "\n".join("    " + line if line else "" for line in output.rstrip().splitlines())
    block = (
        f"{start}\nLatest run: {when}, load average {os.getloadavg()[0]:.1f} at the end.\n\n"
        f"    {command}\n\n{body}\n{end}"
    )
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    path.write_text(pattern.sub(lambda _: block, text, count=1), encoding="utf-8")
