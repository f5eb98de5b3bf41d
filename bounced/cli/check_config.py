"""`bounced check-config`: validate the config file without starting anything."""

from __future__ import annotations

import argparse

from bounced.cli.common import add_config_option, config_from_args

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("check-config", help="validate the config file and exit")
    add_config_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)  # raises ConfigError -> exit 2
    if config.submission.enabled:
        from bounced.submission.service import check_sending_config

        check_sending_config(config)  # settings that must fit together when sending
    print(f"config ok: {config.source or 'built-in defaults'}")
    if config.verp.unsigned_policy == "suppress":
        print(
            "warning: [verp] unsigned bounces suppress (anyone who can mail this host can suppress any"
            " address); set [verp.keys] and sign return paths (docs/signing.md)"
        )
    return 0
