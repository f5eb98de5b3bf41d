"""`bounced suppression ...` and `bounced profile ...`: the admin side of the suppression list.

Removal exists only here: nothing that arrives by SMTP can take an address off the list.
Every add/remove is written to the audit log (who, when, why) in the same transaction.
Exit codes: 0 done / suppressed / found, 1 not suppressed / unknown / store problem, 2 bad usage.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from bounced.cli import suppression_transfer as transfer
from bounced.cli.common import (
    add_config_option,
    config_from_args,
    count,
    missing_database,
    positive_count,
    run_with_store,
)
from bounced.clock import SystemClock
from bounced.service.errors import InvalidInput
from bounced.service.suppressions import SuppressionService
from bounced.service.values import required_text, suppression_dict, valid_address
from bounced.service.views import Views
from bounced.store.base import ServiceStore

__all__ = ["current_actor", "register"]

Command = Callable[[ServiceStore, argparse.Namespace], Awaitable[int]]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    supp = sub.add_parser("suppression", help="inspect and edit the suppression list")
    supp_sub = supp.add_subparsers(dest="action", required=True, metavar="ACTION")

    p = supp_sub.add_parser("list", help="list suppressed addresses")
    p.add_argument("--limit", type=positive_count, default=1000, help="at most this many (default 1000)")
    p.add_argument("--offset", type=count, default=0, help="skip this many first")
    p.add_argument("--cursor", help="start after this cursor (next_cursor of the previous page)")
    _common(p, _list, needs_db=True)

    p = supp_sub.add_parser("show", help="is EMAIL suppressed? (exit 0 yes, 1 no)")
    p.add_argument("email")
    p.add_argument("--why", action="store_true", help="the evidence: events, rule, signature, raw message")
    _common(p, _show, needs_db=True)

    p = supp_sub.add_parser("add", help="suppress EMAIL by hand (audited)")
    p.add_argument("email")
    p.add_argument("--reason", required=True, help="why (kept in the audit log)")
    p.add_argument("--note", help="free text kept on the suppression entry")
    _common(p, _add, needs_db=False)

    p = supp_sub.add_parser("remove", help="take EMAIL off the list (audited; profile back to Active)")
    p.add_argument("email")
    p.add_argument("--reason", required=True, help="why (kept in the audit log)")
    _common(p, _remove, needs_db=True)

    transfer.register(supp_sub, _common)

    p = supp_sub.add_parser("audit", help="who added/removed what, when and why")
    p.add_argument("email", nargs="?")
    _common(p, _audit, needs_db=True)

    prof = sub.add_parser("profile", help="recipient profiles")
    prof_sub = prof.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = prof_sub.add_parser("show", help="status and bounce history of EMAIL")
    p.add_argument("email")
    p.add_argument("--events", type=count, default=10, help="show this many latest events (default 10)")
    _common(p, _profile, needs_db=True)


def _common(parser: argparse.ArgumentParser, command: Command, *, needs_db: bool) -> None:
    add_config_option(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=lambda args: _run(args, command, needs_db))


def current_actor() -> str:
    """The OS user running the command, and who they were before sudo."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = f"uid:{os.getuid()}"
    sudo_user = os.environ.get("SUDO_USER")
    if sudo_user and sudo_user != user:
        return f"{user} (sudo from {sudo_user})"
    return user


def _run(args: argparse.Namespace, command: Command, needs_db: bool) -> int:
    config = config_from_args(args)  # ConfigError -> exit 2 in cli.main
    try:
        if getattr(args, "email", None) is not None:
            args.email = valid_address(args.email)
        if hasattr(args, "reason"):
            required_text(args.reason, "reason")
    except InvalidInput as exc:
        return _usage(exc)
    if needs_db and missing_database(config):
        return 1
    args.loaded_config = config  # profile show explains a hard bounce left unsuppressed

    async def checked(store: ServiceStore) -> int:
        try:
            return await command(store, args)
        except InvalidInput as exc:
            return _usage(exc)

    return run_with_store(config, checked)


def _usage(exc: InvalidInput) -> int:
    name = exc.field if exc.field == "email" else f"--{exc.field.replace('_', '-')}"
    print(f"bounced: {name}: {exc.message}", file=sys.stderr)
    return 2


# --- commands ----------------------------------------------------------------------------


async def _list(store: ServiceStore, args: argparse.Namespace) -> int:
    service = SuppressionService(store, SystemClock())
    if args.cursor:
        page = await service.page(args.cursor, args.limit)
    else:
        page = await service.page_at(args.offset, args.limit)
    if args.json:
        _print_json(
            {
                "entries": [suppression_dict(e) for e in page.entries],
                "total": page.total,
                "next_cursor": page.next_cursor,
                "next_offset": page.next_offset,
            }
        )
    else:
        for e in page.entries:
            print(f"{e.address}\t{_when(e.created_at)}\t{e.created_by}\t{e.reason}")
        print(f"{len(page.entries)} shown, {page.total} suppressed in all", file=sys.stderr)
    if page.next_cursor is not None:
        print(
            f"bounced: list cut at {args.limit}: more with --offset {page.next_offset} (or --cursor "
            f"{page.next_cursor}); the whole list: bounced suppression export",
            file=sys.stderr,
        )
    return 0


async def _show(store: ServiceStore, args: argparse.Namespace) -> int:
    address, entry = await SuppressionService(store, SystemClock()).get(args.email)
    if args.why:
        from bounced.cli.why import explain

        await explain(store, config_from_args(args), address, entry, args.json)
    elif args.json:
        _print_json({"address": address, "suppressed": entry is not None, "entry": suppression_dict(entry)})
    elif entry is None:
        print(f"{address}: not suppressed")
    else:
        print(f"{entry.address}: suppressed since {_when(entry.created_at)} by {entry.created_by}")
        print(f"  reason: {entry.reason}")
        if entry.bounce_event_id is not None:
            print(f"  bounce event: {entry.bounce_event_id}")
        if entry.note:
            print(f"  note: {entry.note}")
    return 0 if entry is not None else 1


async def _add(store: ServiceStore, args: argparse.Namespace) -> int:
    actor = current_actor()
    address, added, entry = await SuppressionService(store, SystemClock()).add(
        args.email, args.reason, actor, args.note
    )
    if args.json:
        _print_json({"address": address, "added": added, "entry": suppression_dict(entry)})
    elif added:
        print(f"{address}: suppressed (audited as {actor})")
    else:
        assert entry is not None
        print(f"{address}: already suppressed since {_when(entry.created_at)} ({entry.reason}); unchanged")
    return 0


async def _remove(store: ServiceStore, args: argparse.Namespace) -> int:
    actor = current_actor()
    address, removed = await SuppressionService(store, SystemClock()).remove(args.email, args.reason, actor)
    if args.json:
        _print_json({"address": address, "removed": removed})
    elif removed:
        print(f"{address}: removed from the suppression list (audited as {actor})")
    else:
        print(f"bounced: {address} is not on the suppression list; nothing changed", file=sys.stderr)
    return 0 if removed else 1


async def _audit(store: ServiceStore, args: argparse.Namespace) -> int:
    entries = await Views(store).audit(args.email)
    if args.json:
        _print_json(entries)
        return 0
    for e in entries:
        print(f"{e['at']}\t{e['action']}\t{e['address']}\t{e['actor']}\t{e['reason']}")
    if not entries:
        print("no audit entries" + (f" for {args.email}" if args.email else ""), file=sys.stderr)
    return 0


async def _profile(store: ServiceStore, args: argparse.Namespace) -> int:
    view = await Views(store, args.loaded_config).profile(args.email, args.events)
    if view is None:
        print(f"bounced: no profile for {args.email} (never bounced, never suppressed)", file=sys.stderr)
        return 1
    if args.json:
        _print_json(view.data)
        return 0
    profile, entry = view.profile, view.data["suppression"]
    print(f"{profile.address}")
    print(f"  status: {profile.status.label}")
    print(f"  suppressed: {'yes, ' + entry['reason'] + ' (' + entry['created_by'] + ')' if entry else 'no'}")
    why_not = view.data.get("not_suppressed_because")
    if why_not:
        print(f"  hard {profile.hard_bounce_count}, not suppressed: {why_not}")
    hard, soft = profile.hard_bounce_count, profile.soft_bounce_count
    print(f"  bounces: {profile.bounce_count} (hard {hard}, soft {soft})")
    if profile.last_bounce_at is not None:
        print(f"  last bounce: {_when(profile.last_bounce_at)} ({profile.last_bounce_reason})")
    shown, total = len(view.data["events"]), view.data["events_total"]
    if shown < total:
        print(f"  latest {shown} of {total} events (more with --events {total}):")
    for e in view.data["events"]:
        kind, reason, status = e["kind"], e["reason"], e["status"] or "-"
        when = e["received_at"][:19].replace("T", " ") + " UTC"
        print(f"  {when}  {kind:<9} {reason:<14} {status:<7} {e['diagnostic'][:80]}")
    return 0


# --- output ------------------------------------------------------------------------------


def _when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
