"""Options and helpers shared by the command modules."""

from __future__ import annotations

import argparse

from bounced.config import Config, load_config

__all__ = ["add_config_option", "config_from_args"]


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", metavar="FILE", help="TOML config file (default: $BOUNCED_CONFIG, else built-in defaults)"
    )


def config_from_args(args: argparse.Namespace) -> Config:
    return load_config(getattr(args, "config", None))
