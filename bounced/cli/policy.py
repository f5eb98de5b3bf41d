"""`bounced policy simulate|soft-thresholds` and `bounced quarantine list|release|confirm`.

simulate changes nothing: it reads the stored bounces of the period and prints what the
proposed config (`--config NEW.toml`) would add to and remove from the suppression list,
compared with the current one (`--current FILE`, else $BOUNCED_CONFIG, else the defaults).
The database is the proposed config's `storage.path`.
Exit codes: 0 done, 1 store problem or nothing found where something was asked for, 2 usage.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bounced.cli.admin import current_actor
from bounced.cli.common import add_config_option, config_from_args, missing_database, run_with_store
from bounced.cli.period import add_period_options, checked_period, parse_when
from bounced.clock import SystemClock
from bounced.config import Config, load_config
from bounced.store.base import ServiceStore

__all__ = ["register"]

if TYPE_CHECKING:
    from bounced.apply.simulate import Simulation

Command = Callable[[ServiceStore, Config, argparse.Namespace], Awaitable[int]]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    pol = sub.add_parser("policy", help="simulate a config change; evaluate soft-bounce thresholds")
    pol_sub = pol.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = pol_sub.add_parser(
        "simulate",
        help="re-classify stored bounces under --config NEW.toml; show what would change (changes nothing)",
    )
    p.add_argument(
        "--current", metavar="FILE", help="the config in use (default: $BOUNCED_CONFIG, else defaults)"
    )
    add_period_options(p, from_required=True, to_default="now", start="start", end="end")
    _common(p, _simulate)
    p = pol_sub.add_parser(
        "soft-thresholds", help="evaluate [[policy.soft_thresholds]] over the stored soft bounces now"
    )
    p.add_argument("--since", type=parse_when, metavar="DATE", help="only addresses with soft bounces since")
    p.add_argument("--dry-run", action="store_true", help="only list what would be suppressed")
    _common(p, _soft_thresholds)

    qua = sub.add_parser("quarantine", help="hard bounces held by the mass-failure guard")
    qua_sub = qua.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = qua_sub.add_parser("list", help="held entries (--all: released and confirmed too)")
    p.add_argument("--domain", help="only this recipient domain")
    p.add_argument("--all", action="store_true")
    _common(p, _list)
    for name, text in (
        ("release", "drop held entries without suppressing (audited)"),
        ("confirm", "suppress the addresses of held entries (audited)"),
    ):
        p = qua_sub.add_parser(name, help=text)
        p.add_argument("--domain", help="only this recipient domain")
        p.add_argument("ids", nargs="*", type=int, metavar="ID", help="only these entries")
        p.add_argument("--every", action="store_true", help="all held entries (needed without --domain/ID)")
        _common(p, _release if name == "release" else _confirm)


def _common(parser: argparse.ArgumentParser, command: Command) -> None:
    add_config_option(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=lambda args: _run(args, command))


def _run(args: argparse.Namespace, command: Command) -> int:
    config = config_from_args(args)
    if getattr(args, "action", "") in ("release", "confirm") and not (args.domain or args.ids or args.every):
        print("bounced: name entries (ID ...), --domain DOMAIN, or --every", file=sys.stderr)
        return 2
    if missing_database(config):
        return 1
    return run_with_store(config, lambda store: command(store, config, args))


def _print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


# --- policy ----------------------------------------------------------------------------


async def _simulate(store: ServiceStore, proposed: Config, args: argparse.Namespace) -> int:
    from bounced.apply.simulate import simulate  # the classifier loads only for this command

    end = args.end or datetime.now(UTC)
    problem = checked_period(args.start, end)
    if problem:
        print(f"bounced: {problem}", file=sys.stderr)
        return 2
    current = load_config(args.current or os.environ.get("BOUNCED_CONFIG") or None)
    events = [e async for e in store.events_between(args.start, end)]
    sim = await asyncio.to_thread(simulate, events, current, proposed)
    result = await _changes(store, sim)
    if args.json:
        _print_json(result)
        return 0
    print(f"{sim.events} stored bounce events from {args.start.isoformat()} to {end.isoformat()}")
    for title, rows in (("would be added", result["added"]), ("would be removed", result["removed"])):
        print(f"{title}: {len(rows)}")
        for row in rows:
            print(f"  {row['address']}\t{row['reason']}\t{row['rule'] or '-'}")
    for title, counts in (
        ("added by reason", result["added_by_reason"]),
        ("removed by reason", result["removed_by_reason"]),
    ):
        if counts:
            print(f"{title}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    for row in result["reclassified"]:
        print(f"reclassified: {row['reason']} {row['kind_now']} -> {row['kind_new']}: {row['events']}")
    print("nothing was changed", file=sys.stderr)
    return 0


async def _changes(store: ServiceStore, sim: Simulation) -> dict[str, Any]:
    on_list = await store.suppressed_among([*sim.now, *sim.new])
    added = sorted(a for a in sim.new if a not in on_list)
    removed = []
    for address in sorted(a for a in sim.now if a not in sim.new and a in on_list):
        entry = await store.get_suppression(address)
        if entry is not None and entry.created_by == "bounce":  # admin/complaint entries stay
            removed.append(address)

    def rows(addresses: list[str], source: dict[str, tuple[str, str | None]]) -> list[dict[str, Any]]:
        return [{"address": a, "reason": source[a][0], "rule": source[a][1]} for a in addresses]

    def by_reason(addresses: list[str], source: dict[str, tuple[str, str | None]]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for a in addresses:
            counts[source[a][0]] = counts.get(source[a][0], 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    return {
        "events": sim.events,
        "added": rows(added, sim.new),
        "removed": rows(removed, sim.now),
        "added_by_reason": by_reason(added, sim.new),
        "removed_by_reason": by_reason(removed, sim.now),
        "reclassified": [
            {"reason": r, "kind_now": a, "kind_new": b, "events": n}
            for (r, a, b), n in sorted(sim.changed.items())
        ],
    }


async def _soft_thresholds(store: ServiceStore, config: Config, args: argparse.Namespace) -> int:
    if not config.policy.soft_thresholds:
        print(
            "bounced: no [[policy.soft_thresholds]] rules in this config; nothing to evaluate",
            file=sys.stderr,
        )
        return 1
    from bounced.apply.enforce import evaluate_soft_thresholds

    found = await evaluate_soft_thresholds(
        store, config, SystemClock().now(), args.since, apply=not args.dry_run
    )
    if args.json:
        _print_json([{"address": a, "rule": h.rule, "event": h.event.id} for a, h in found])
        return 0
    verb = "would suppress" if args.dry_run else "suppressed"
    for address, hit in found:
        print(f"{verb}\t{address}\trule {hit.rule}\t({hit.count} soft bounces, last event {hit.event.id})")
    print(f"{len(found)} address(es) {verb}", file=sys.stderr)
    return 0


# --- quarantine ------------------------------------------------------------------------


async def _list(store: ServiceStore, config: Config, args: argparse.Namespace) -> int:
    entries = await store.list_quarantine(None if args.all else "held", args.domain)
    if args.json:
        _print_json([
            {"id": e.id, "address": e.address, "event": e.bounce_event_id, "reason": e.reason,
             "domain": e.recipient_domain, "sending_ip": e.sending_ip, "text": e.text_key,
             "created_at": e.created_at.isoformat(), "state": e.state, "decided_by": e.decided_by}
            for e in entries
        ])  # fmt: skip
        return 0
    for e in entries:
        print(f"{e.id}\t{e.address}\t{e.state}\t{e.reason}\t{e.recipient_domain}\t{e.text_key}")
    print(f"{len(entries)} entries", file=sys.stderr)
    return 0


async def _release(store: ServiceStore, config: Config, args: argparse.Namespace) -> int:
    count = await store.release_quarantine(current_actor(), SystemClock().now(), args.domain, args.ids)
    return _done(args, "released", count)


async def _confirm(store: ServiceStore, config: Config, args: argparse.Namespace) -> int:
    count = await store.confirm_quarantine(current_actor(), SystemClock().now(), args.domain, args.ids)
    return _done(args, "confirmed (suppressed)", count)


def _done(args: argparse.Namespace, what: str, count: int) -> int:
    if args.json:
        _print_json({"action": args.action, "entries": count})
    else:
        print(f"{count} quarantine entries {what} (audited as {current_actor()})")
    return 0 if count else 1
