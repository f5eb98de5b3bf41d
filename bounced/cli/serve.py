"""`bounced serve`: run the daemon in the foreground (systemd Type=notify, or a terminal)."""

from __future__ import annotations

import argparse
import asyncio
import errno
import sys

from bounced.cli.common import add_config_option, config_from_args
from bounced.errors import StoreError
from bounced.eventloop import loop_factory

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "serve",
        help="receive and process bounces until SIGTERM",
        description="Run the return-path SMTP listener and bounce processor in the foreground. "
        "SIGTERM/SIGINT stop gracefully, SIGHUP reloads the config file.",
    )
    add_config_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)  # ConfigError -> exit 2 in bounced.cli.main
    from bounced.daemon import serve
    from bounced.logfmt import configure_logging
    from bounced.preflight import startup_problems

    warnings: list[str] = []
    problems = startup_problems(config, warnings)  # what check-config (ExecStartPre) checks too
    for problem in problems:
        print(f"bounced: cannot start: {problem}", file=sys.stderr)
    for warning in warnings:  # the database away: intake runs, the node connects later
        print(f"bounced: warning: {warning} (starting anyway: bounces wait in the spool)", file=sys.stderr)
    if problems:
        return 1

    configure_logging(config.log.level)
    try:
        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            return runner.run(serve(config))
    except StoreError as exc:
        print(f"bounced: cannot start: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        listen = config.smtp.listen
        if exc.errno == errno.EADDRINUSE:
            why = "address already in use (another bounced or MTA is listening there)"
        elif exc.errno == errno.EACCES:
            why = "permission denied (ports below 1024 need CAP_NET_BIND_SERVICE)"
        elif exc.errno == errno.EADDRNOTAVAIL:
            why = "address not available on this machine"
        else:
            why = exc.strerror or str(exc)
        target = listen if exc.filename is None else exc.filename
        print(f"bounced: cannot start: {target}: {why}", file=sys.stderr)
        return 1
