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
from dataclasses import asdict
from datetime import datetime
from typing import Any

from bounced.apply.explain import why_not_suppressed
from bounced.cli.common import add_config_option, config_from_args, missing_database, run_with_store
from bounced.clock import SystemClock
from bounced.model import AuditEntry, Profile, ProfileStatus, SuppressionEntry, normalise_address
from bounced.store import SQLiteStore

__all__ = ["current_actor", "register"]

Command = Callable[[SQLiteStore, argparse.Namespace], Awaitable[int]]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    supp = sub.add_parser("suppression", help="inspect and edit the suppression list")
    supp_sub = supp.add_subparsers(dest="action", required=True, metavar="ACTION")

    p = supp_sub.add_parser("list", help="list suppressed addresses")
    p.add_argument("--limit", type=int, default=1000, help="at most this many (default 1000)")
    p.add_argument("--offset", type=int, default=0, help="skip this many first")
    _common(p, _list, needs_db=True)

    p = supp_sub.add_parser("show", help="is EMAIL suppressed? (exit 0 yes, 1 no)")
    p.add_argument("email")
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

    p = supp_sub.add_parser("audit", help="who added/removed what, when and why")
    p.add_argument("email", nargs="?")
    _common(p, _audit, needs_db=True)

    prof = sub.add_parser("profile", help="recipient profiles")
    prof_sub = prof.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = prof_sub.add_parser("show", help="status and bounce history of EMAIL")
    p.add_argument("email")
    p.add_argument("--events", type=int, default=10, help="show this many latest events (default 10)")
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
    email = getattr(args, "email", None)
    if email is not None:
        problem = _address_problem(email)
        if problem:
            print(f"bounced: {problem}", file=sys.stderr)
            return 2
        args.email = normalise_address(email)
    for name in ("reason",):
        if hasattr(args, name) and not str(getattr(args, name)).strip():
            print(f"bounced: --{name} must not be empty", file=sys.stderr)
            return 2
    if needs_db and missing_database(config):
        return 1
    args.verp = config.verp
    return run_with_store(config, lambda store: command(store, args))


def _address_problem(email: str) -> str | None:
    addr = normalise_address(email)
    local, at, domain = addr.rpartition("@")
    if not at or not local or not domain or any(c.isspace() for c in addr):
        return f"{email!r} is not an email address (expected local@domain)"
    return None


# --- commands ----------------------------------------------------------------------------


async def _list(store: SQLiteStore, args: argparse.Namespace) -> int:
    entries = await store.list_suppressions(limit=args.limit, offset=args.offset)
    if args.json:
        _print_json([_suppression_dict(e) for e in entries])
        return 0
    for e in entries:
        print(f"{e.address}\t{_when(e.created_at)}\t{e.created_by}\t{e.reason}")
    total = await store.count_suppressions()
    print(f"{len(entries)} shown, {total} suppressed in all", file=sys.stderr)
    return 0


async def _show(store: SQLiteStore, args: argparse.Namespace) -> int:
    entry = await store.get_suppression(args.email)
    if args.json:
        _print_json(
            {"address": args.email, "suppressed": entry is not None, "entry": _suppression_dict(entry)}
        )
    elif entry is None:
        print(f"{args.email}: not suppressed")
    else:
        print(f"{entry.address}: suppressed since {_when(entry.created_at)} by {entry.created_by}")
        print(f"  reason: {entry.reason}")
        if entry.bounce_event_id is not None:
            print(f"  bounce event: {entry.bounce_event_id}")
        if entry.note:
            print(f"  note: {entry.note}")
    return 0 if entry is not None else 1


async def _add(store: SQLiteStore, args: argparse.Namespace) -> int:
    added = await store.add_suppression(
        args.email, args.reason, current_actor(), SystemClock().now(), args.note
    )
    entry = await store.get_suppression(args.email)
    if args.json:
        _print_json({"address": args.email, "added": added, "entry": _suppression_dict(entry)})
    elif added:
        print(f"{args.email}: suppressed (audited as {current_actor()})")
    else:
        assert entry is not None
        print(f"{args.email}: already suppressed since {_when(entry.created_at)} ({entry.reason}); unchanged")
    return 0


async def _remove(store: SQLiteStore, args: argparse.Namespace) -> int:
    removed = await store.remove_suppression(args.email, args.reason, current_actor(), SystemClock().now())
    if args.json:
        _print_json({"address": args.email, "removed": removed})
    elif removed:
        print(f"{args.email}: removed from the suppression list (audited as {current_actor()})")
    else:
        print(f"bounced: {args.email} is not on the suppression list; nothing changed", file=sys.stderr)
    return 0 if removed else 1


async def _audit(store: SQLiteStore, args: argparse.Namespace) -> int:
    entries = await store.audit_entries(args.email)
    if args.json:
        _print_json([_audit_dict(e) for e in entries])
        return 0
    for e in entries:
        print(f"{_when(e.at)}\t{e.action}\t{e.address}\t{e.actor}\t{e.reason}")
    if not entries:
        print("no audit entries" + (f" for {args.email}" if args.email else ""), file=sys.stderr)
    return 0


async def _profile(store: SQLiteStore, args: argparse.Namespace) -> int:
    profile = await store.get_profile(args.email)
    entry = await store.get_suppression(args.email)
    if profile is None and entry is None:
        print(f"bounced: no profile for {args.email} (never bounced, never suppressed)", file=sys.stderr)
        return 1
    events = (await store.events_for(args.email))[-args.events :] if args.events > 0 else []
    if profile is None:
        profile = Profile(address=args.email, status=ProfileStatus.ACTIVE)
    why_not = None
    if entry is None and profile.hard_bounce_count:
        all_events = await store.events_for(args.email)
        why_not = why_not_suppressed(profile, all_events, await store.audit_entries(args.email), args.verp)
    if args.json:
        data = _profile_dict(profile)
        data["suppression"] = _suppression_dict(entry)
        data["not_suppressed_because"] = why_not
        data["events"] = [
            {
                "id": e.id,
                "received_at": _iso(e.received_at),
                "kind": e.kind.value,
                "reason": e.reason.value,
                "status": e.status,
                "diagnostic": e.diagnostic,
                "signed": e.signed,
                "mailing_id": e.mailing_id,
            }
            for e in events
        ]
        _print_json(data)
        return 0
    print(f"{profile.address}")
    print(f"  status: {profile.status.label}")
    print(f"  suppressed: {'yes, ' + entry.reason + ' (' + entry.created_by + ')' if entry else 'no'}")
    if why_not:
        print(f"  hard {profile.hard_bounce_count}, not suppressed: {why_not}")
    hard, soft = profile.hard_bounce_count, profile.soft_bounce_count
    print(f"  bounces: {profile.bounce_count} (hard {hard}, soft {soft})")
    if profile.last_bounce_at is not None:
        print(f"  last bounce: {_when(profile.last_bounce_at)} ({profile.last_bounce_reason})")
    for e in events:
        kind, reason, status = e.kind.value, e.reason.value, e.status or "-"
        print(f"  {_when(e.received_at)}  {kind:<9} {reason:<14} {status:<7} {e.diagnostic[:80]}")
    return 0


# --- output ------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _suppression_dict(entry: SuppressionEntry | None) -> dict[str, Any] | None:
    if entry is None:
        return None
    data = asdict(entry)
    data["created_at"] = _iso(entry.created_at)
    return data


def _audit_dict(entry: AuditEntry) -> dict[str, Any]:
    data = asdict(entry)
    data["at"] = _iso(entry.at)
    return data


def _profile_dict(profile: Profile) -> dict[str, Any]:
    data = asdict(profile)
    data["status"] = profile.status.value
    data["status_label"] = profile.status.label
    for key in ("last_bounce_at", "created_at", "updated_at"):
        data[key] = _iso(getattr(profile, key))
    return data


def _print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
