"""`bounced check-config`: validate the config file without starting anything.

Exit 2: the file is wrong (every problem, one line each, key named). Exit 1: the file is
right but `serve` could not start with it here (database directory not writable, TLS
files unreadable or not a pair ...): the same checks `serve` makes before binding, so the
unit's ExecStartPre catches them. --file-only skips those (checking a file for another
machine), and the connection to each [[brokers]] entry (a warning when it fails: serve
starts anyway, the events wait in the outbox)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from bounced.cli.common import add_config_option, config_from_args
from bounced.config import Config
from bounced.preflight import startup_problems

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "check-config",
        help="validate the config file, and that serve could start with it here",
        description="Validate the config file (exit 2, every problem named) and check what serve "
        "needs from this machine before it binds: database directory writable, TLS files readable "
        "and a valid pair (exit 1).",
    )
    p.add_argument("--file-only", action="store_true", help="only the file; skip the checks of this machine")
    add_config_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)  # raises ConfigError -> exit 2
    if config.submission.enabled:
        from bounced.submission.service import check_sending_config

        check_sending_config(config)  # settings that must fit together when sending
    if not args.file_only:
        warnings: list[str] = []
        problems = startup_problems(config, warnings)
        for problem in problems:
            print(f"bounced: cannot start with this config here: {problem}", file=sys.stderr)
        if problems:
            return 1
        for warning in warnings:  # not a reason to keep a node from taking bounces
            print(f"warning: {warning} (serve starts anyway: bounces wait in the local spool)")
    print(f"config ok: {config.source or 'built-in defaults'}")
    if config.brokers and not args.file_only:
        _warn_about_brokers(config)
    if config.verp.unsigned_policy == "suppress":
        print(
            "warning: [verp] unsigned bounces suppress (anyone who can mail this host can suppress any"
            " address); set [verp.keys] and sign return paths (docs/signing.md)"
        )
    return 0


def _warn_about_brokers(config: Config) -> None:
    """A broker that cannot be reached is no reason not to start (events wait in the outbox
    until it can), but the operator should know now: connect and declare each exchange."""
    from bounced.config.brokers import redact_url
    from bounced.webhooks.rabbitmq import broker_problem

    async def problems() -> list[str | None]:
        return [await broker_problem(broker) for broker in config.brokers]

    for i, (broker, problem) in enumerate(zip(config.brokers, asyncio.run(problems()), strict=True)):
        if problem is not None:
            print(
                f"warning: brokers[{i}] ({broker.name}, {redact_url(broker.url)},"
                f" exchange {broker.exchange}): cannot publish yet: {problem};"
                " events wait in the outbox until it can"
            )
