"""`bounced queue ...` and `bounced undeliveries ...`: the resend queue and non-delivery events.

Exit codes: 0 done / found, 1 not found / no database / store problem, 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from bounced.addresses import address_problem
from bounced.cli.common import (
    add_config_option,
    config_from_args,
    missing_database,
    positive_count,
    run_with_store,
)
from bounced.cli.period import add_period_options, checked_period
from bounced.service.errors import InvalidInput
from bounced.service.values import job_dict
from bounced.service.views import Views
from bounced.store.base import ServiceStore

__all__ = ["register"]

Command = Callable[[ServiceStore, argparse.Namespace], Awaitable[int]]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    queue = sub.add_parser("queue", help="the resend queue (pending deliveries and resends)")
    queue_sub = queue.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = queue_sub.add_parser("list", help="pending resends: recipient, next attempt, attempts, last bounce")
    p.add_argument("--limit", type=positive_count, default=1000, help="at most this many (default 1000)")
    p.add_argument("--all", action="store_true", help="include first attempts not yet made")
    p.add_argument("--recipient", metavar="ADDR", help="only the deliveries to this address")
    p.add_argument(
        "--submission",
        metavar="ID",
        type=positive_count,
        help='only one submitted message (its "queued as ID")',
    )
    _common(p, _queue_list)
    p = queue_sub.add_parser("show", help="one queue entry and its delivery")
    p.add_argument("id", type=int)
    _common(p, _queue_show)

    undel = sub.add_parser("undeliveries", help="non-delivery events (soft bounces the rules gave up on)")
    undel_sub = undel.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = undel_sub.add_parser("list", help="non-delivery events, oldest first")
    add_period_options(p, from_required=False, to_default="no end", start="since", end="until")
    p.add_argument("--mailing", metavar="ID", help="only this X-Mailing-ID")
    p.add_argument("--limit", type=positive_count, default=10_000, help="at most this many (default 10000)")
    _common(p, _undeliveries_list)


def _common(parser: argparse.ArgumentParser, command: Command) -> None:
    add_config_option(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=lambda args: _run(args, command))


def _run(args: argparse.Namespace, command: Command) -> int:
    problem = checked_period(getattr(args, "since", None), getattr(args, "until", None))
    if problem:
        print(f"bounced: {problem}", file=sys.stderr)
        return 2
    if getattr(args, "recipient", None) is not None:
        problem = address_problem(args.recipient)
        if problem:
            print(f"bounced: --recipient: {problem}", file=sys.stderr)
            return 2
    config = config_from_args(args)
    if missing_database(config):
        return 1
    return run_with_store(config, lambda store: command(store, args))


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def _say_cut(what: str, limit: int) -> None:
    print(f"bounced: {what} cut at {limit}: raise --limit to see more", file=sys.stderr)


async def _queue_list(store: ServiceStore, args: argparse.Namespace) -> int:
    view = await Views(store).queue(args.limit, args.all, args.recipient, args.submission)
    if args.json:
        _print_json(view)
    else:
        if view["jobs"]:
            print("ID\tRECIPIENT\tNEXT ATTEMPT\tATTEMPTS SO FAR\tSTATE\tLAST BOUNCE")
        for job in view["jobs"]:
            text = " ".join((job["last_bounce_text"] or "").split())
            print(f"{job['id']}\t{job['recipient']}\t{job['next_attempt_at']}\t{job['attempts_so_far']}"
                  f"\t{job['state']}\t{text}")  # fmt: skip
        counts = view["counts"]
        print(
            f"{len(view['jobs'])} shown; queue: {counts['pending']} pending, {counts['running']} running",
            file=sys.stderr,
        )
    if view["truncated"]:
        _say_cut("queue list", args.limit)
    return 0


async def _queue_show(store: ServiceStore, args: argparse.Namespace) -> int:
    job = await store.get_resend(args.id)
    if job is None:
        print(f"bounced: no queue entry {args.id}", file=sys.stderr)
        return 1
    delivery = await store.get_delivery(job.delivery_id)
    history = await store.jobs_for_delivery(job.delivery_id)
    if args.json:
        out = job_dict(job)
        if delivery is not None:
            out["delivery"] = {
                "state": delivery.state.value,
                "attempts": delivery.attempts,
                "sending_ip": delivery.sending_ip,
                "mailing_id": delivery.mailing_id,
                "from_domain": delivery.from_domain,
                "created_at": _when(delivery.created_at),
                "last_attempt_at": _when(delivery.last_attempt_at),
            }
        out["history"] = [job_dict(j) for j in history]
        _print_json(out)
        return 0
    print(f"queue entry {job.id}: attempt {job.attempt} of delivery {job.delivery_id} ({job.state.value})")
    print(f"  recipient:    {job.recipient}")
    print(f"  next attempt: {_when(job.due_at)}")
    print(f"  last bounce:  {job.last_bounce_text or '-'}")
    if delivery is not None:
        print(f"  delivery:     {delivery.state.value}, {delivery.attempts} attempt(s) so far")
        print(f"  mailing:      {delivery.mailing_id or '-'}  from {delivery.from_domain or '-'}")
        print(f"  sending IP:   {delivery.sending_ip or '(OS default)'}")
        print(f"  submitted:    {_when(delivery.created_at)}")
    for past in history:
        print(f"  attempt {past.attempt}: due {_when(past.due_at)} {past.state.value}")
    return 0


async def _undeliveries_list(store: ServiceStore, args: argparse.Namespace) -> int:
    try:
        view = await Views(store).non_deliveries(args.since, args.until, args.mailing, args.limit)
    except InvalidInput as exc:
        print(f"bounced: --{exc.field}: {exc.message}", file=sys.stderr)
        return 2
    if args.json:
        _print_json(view)
    else:
        for nd in view["non_deliveries"]:
            text = " ".join(nd["last_bounce_text"].split())
            print(f"{nd['at']}\t{nd['recipient']}\t{nd['attempts']}\t{nd['mailing_id'] or '-'}\t{text}")
        print(f"{len(view['non_deliveries'])} non-delivery event(s)", file=sys.stderr)
    if view["truncated"]:
        _say_cut("non-delivery list", args.limit)
    return 0
