"""`bounced hooks list|show|replay` and `bounced verp sign`: webhooks and signed return paths."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime
from typing import Any

from bounced.cli.common import add_config_option, config_from_args, missing_database, run_with_store
from bounced.clock import SystemClock
from bounced.errors import VerpError
from bounced.model import WebhookState
from bounced.store.base import ServiceStore
from bounced.verp.sign import return_path_for
from bounced.webhooks import service

__all__ = ["register"]


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    hooks = sub.add_parser("hooks", help="webhook and broker deliveries: list, show, replay")
    hooks_sub = hooks.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = hooks_sub.add_parser("list", help="deliveries, oldest first")
    p.add_argument("--hook", help="only this hook or broker (its name; a hook without one: its url)")
    p.add_argument("--state", choices=[s.value for s in WebhookState])
    p.add_argument("--from", dest="since", type=_day, help="events recorded on or after DATE")
    p.add_argument("--limit", type=int, default=1000)
    _common(p, _list)
    p = hooks_sub.add_parser("show", help="one event: its JSON body and its delivery to each hook")
    p.add_argument("event_id", type=int)
    _common(p, _show)
    p = hooks_sub.add_parser("replay", help="send every event since DATE again (the daemon delivers them)")
    p.add_argument("--from", dest="since", type=_day, required=True, help="YYYY-MM-DD (UTC)")
    p.add_argument("--hook", help="only this hook or broker")
    _common(p, _replay)

    verp = sub.add_parser("verp", help="signed return paths")
    verp_sub = verp.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = verp_sub.add_parser("sign", help="print the signed return path for a recipient (docs/signing.md)")
    p.add_argument("--recipient", required=True)
    p.add_argument("--mailing", help="mailing id (at most 20 bytes)")
    p.add_argument("--date", type=_day, help="send date YYYY-MM-DD (default: today, UTC)")
    add_config_option(p)
    p.set_defaults(func=_sign)


def _common(parser: argparse.ArgumentParser, command: Any) -> None:
    add_config_option(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=lambda args: _run(args, command))


def _run(args: argparse.Namespace, command: Any) -> int:
    config = config_from_args(args)
    if missing_database(config):
        return 1
    args.config_value = config
    return run_with_store(config, lambda store: command(store, args))


def _sign(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    sent = args.date or datetime.now(UTC).date()
    try:
        print(return_path_for(config.verp, args.recipient, sent, args.mailing))
    except VerpError as exc:
        print(f"bounced: {exc}", file=sys.stderr)
        return 2
    return 0


def _since(day: date | None) -> datetime | None:
    return None if day is None else datetime(day.year, day.month, day.day, tzinfo=UTC)


async def _list(store: ServiceStore, args: argparse.Namespace) -> int:
    state = WebhookState(args.state) if args.state else None
    rows = await service.list_deliveries(store, args.hook, state, _since(args.since), args.limit)
    if args.json:
        _print_json([service.delivery_dict(d) for d in rows])
        return 0
    for d in rows:
        e = d.event
        print(f"{e.id}\t{e.at:%Y-%m-%d %H:%M:%S}\t{e.type}\t{e.recipient}\t{d.hook}\t{d.state.value}"
              f"\tattempts={d.attempts}\t{d.last_error or ''}")  # fmt: skip
    return 0


async def _show(store: ServiceStore, args: argparse.Namespace) -> int:
    found = await service.show_event(store, args.event_id)
    if found is None:
        print(f"bounced: no webhook event {args.event_id}", file=sys.stderr)
        return 1
    _print_json(service.show_dict(found))
    return 0


async def _replay(store: ServiceStore, args: argparse.Namespace) -> int:
    since = _since(args.since)
    assert since is not None
    counts = await service.replay(store, args.config_value, since, SystemClock().now(), args.hook)
    if args.json:
        _print_json(counts)
    else:
        for hook, count in counts.items():
            print(f"{hook}: {count} events queued again")
    return 0


def _print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
