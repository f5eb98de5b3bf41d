"""`bounced` command line: one module per command group, each with `register(subparsers)`.

Exit codes: 0 success, 1 "no" answers, unreadable inputs and unwritable outputs, 2 bad usage
or bad config. Output cut short by its reader (`bounced ... | head`) ends quietly with 0.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from bounced import __version__
from bounced.cli.common import OutputError
from bounced.errors import ConfigError

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    from bounced.cli import admin, check_config, hooks, intake, parse, policy, queue, report, serve, storage

    parser = argparse.ArgumentParser(prog="bounced", description="Bounce processor for a return-path host.")
    parser.add_argument("--version", action="version", version=f"bounced {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (serve, check_config, parse, admin, queue, report, intake, policy, hooks, storage):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except ConfigError as exc:
        for line in str(exc).splitlines():
            print(f"bounced: config error: {line}", file=sys.stderr)
        return 2
    except OutputError as exc:
        print(f"bounced: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        _silence_stdout()
        return 0
    except KeyboardInterrupt:
        return 130


def _silence_stdout() -> None:
    """The reader went away (`| head`): what is left in stdout's buffer goes nowhere, so the
    interpreter's final flush does not print a second traceback."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout without a file descriptor (captured in a test)
        pass
