"""`bounced intake prune|stats|list|show|retry`: the intake spool from the shell.

`prune` runs the daemon's retention once (safe while the daemon runs: short transactions);
`stats` shows messages per state, raw bytes kept and how many were pruned; `list`, `show`
and `retry` are the way out of quarantine (failed / unparseable messages kept for a human).
Exit codes: 0 done, 1 no database / no such message / store problem / a retry that failed
again, 2 bad usage or bad config.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bounced.cli.common import add_config_option, config_from_args, missing_database, run_with_store
from bounced.clock import SystemClock
from bounced.config import Config
from bounced.model import IntakeMessage, IntakeState
from bounced.retention import prune_raw
from bounced.store.base import IntakeSummary, ServiceStore

if TYPE_CHECKING:
    from bounced.apply.retry import RetryOutcome

__all__ = ["register"]

Command = Callable[[ServiceStore, argparse.Namespace], Awaitable[int]]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    intake = sub.add_parser("intake", help="the intake spool: retention of raw bounce bytes")
    intake_sub = intake.add_subparsers(dest="action", required=True, metavar="ACTION")

    p = intake_sub.add_parser(
        "prune",
        help="drop the raw bytes of applied bounces older than DAYS (once; the daemon does it hourly)",
    )
    p.add_argument(
        "--older-than",
        metavar="DAYS",
        type=_days,
        help="age in days (default: storage.keep_raw_days; 0 there means keep forever)",
    )
    _common(p, _prune)

    p = intake_sub.add_parser("stats", help="messages per state, raw bytes kept, messages pruned")
    _common(p, _stats)
    _register_quarantine(intake_sub)


def _register_quarantine(intake_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    states = [state.value for state in (IntakeState.FAILED, IntakeState.UNPARSEABLE, IntakeState.PENDING)]
    p = intake_sub.add_parser("list", help="messages in one state, oldest first (without their bytes)")
    p.add_argument("--state", required=True, choices=states, help="which messages")
    p.add_argument("--limit", type=_positive, default=100, help="at most this many (default 100)")
    p.add_argument("--after", metavar="ID", type=int, default=0, help="only ids above ID (the next page)")
    _common(p, _list)

    p = intake_sub.add_parser("show", help="one message: envelope, state, error; --raw: its bytes")
    p.add_argument("id", metavar="ID", type=int)
    p.add_argument("--raw", action="store_true", help="write the raw message, byte for byte, to stdout")
    _common(p, _show)

    p = intake_sub.add_parser(
        "retry", help="parse and apply a failed or unparseable message again (idempotent)"
    )
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("id", metavar="ID", type=int, nargs="?", help="one message")
    which.add_argument(
        "--state",
        choices=[IntakeState.FAILED.value, IntakeState.UNPARSEABLE.value],
        help="every message in this state",
    )
    _common(p, _retry)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return int(text)


def _days(text: str) -> float:
    try:
        days = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number of days, got {text!r}") from None
    if not days > 0 or days == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of days, got {text!r}")
    return days


def _common(parser: argparse.ArgumentParser, command: Command) -> None:
    add_config_option(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=lambda args: _run(args, command))


def _run(args: argparse.Namespace, command: Command) -> int:
    config = config_from_args(args)  # ConfigError -> exit 2 in cli.main
    if getattr(args, "older_than", None) is None and args.action == "prune":
        args.older_than = config.storage.keep_raw_days or None  # 0: retention is off
    if missing_database(config):
        return 1
    args.loaded_config = config  # `retry` applies with it (classify rules, VERP)
    return run_with_store(config, lambda store: command(store, args))


async def _prune(store: ServiceStore, args: argparse.Namespace) -> int:
    now = SystemClock().now()
    if args.older_than is None:
        _say(args, {"pruned": 0, "older_than": None}, "storage.keep_raw_days = 0: raw bytes are kept forever")
        return 0
    older_than = now - timedelta(days=args.older_than)
    pruned = await prune_raw(store, older_than, now)
    _say(
        args,
        {"pruned": pruned, "older_than": older_than.isoformat()},
        f"pruned the raw bytes of {pruned} applied messages"
        f" received before {older_than:%Y-%m-%d %H:%M:%S} UTC",
    )
    return 0


async def _stats(store: ServiceStore, args: argparse.Namespace) -> int:
    stats = await store.intake_stats()
    total = sum(stats.counts.values())
    data = {
        "counts": {state.value: count for state, count in stats.counts.items()},
        "total": total,
        "raw_bytes": stats.raw_bytes,
        "pruned": stats.pruned,
    }
    if args.json:
        _print_json(data)
        return 0
    for state, count in stats.counts.items():
        print(f"{state.value:<12} {count}")
    print(f"{'total':<12} {total}")
    print(f"raw bytes kept: {stats.raw_bytes} ({_human(stats.raw_bytes)})")
    print(f"pruned: {stats.pruned} messages (raw bytes dropped, rows kept)")
    return 0


_RETRY_PAGE = 100  # messages applied per transaction by `retry --state`


async def _list(store: ServiceStore, args: argparse.Namespace) -> int:
    state = IntakeState(args.state)
    rows = await store.list_intake(state, limit=args.limit, after_id=args.after)
    more = len(rows) == args.limit and bool(await store.list_intake(state, limit=1, after_id=rows[-1].id))
    next_after = rows[-1].id if more else None
    if args.json:
        _print_json({"items": [_intake_json(r) for r in rows], "next_after": next_after})
    else:
        for row in rows:
            error = (row.error or "").replace("\n", " ")[:80]
            print(
                f"{row.id:>8}  {row.received_at:%Y-%m-%d %H:%M:%S}  attempts={row.attempts}"
                f"  size={row.size}  from=<{row.mail_from}>  peer={row.peer}  {error}"
            )
    if more:
        print(f"bounced: listing cut at {args.limit}; next page: --after {next_after}", file=sys.stderr)
    return 0


async def _show(store: ServiceStore, args: argparse.Namespace) -> int:
    intake = await store.get_intake(args.id)
    if intake is None:
        print(f"bounced: no intake message with id {args.id}", file=sys.stderr)
        return 1
    if args.raw:
        if intake.raw_pruned_at is not None:
            print(f"bounced: intake {intake.id}: raw bytes pruned at {intake.raw_pruned_at}", file=sys.stderr)
            return 1
        sys.stdout.flush()
        sys.stdout.buffer.write(intake.raw)
        sys.stdout.buffer.flush()
        return 0
    data = _intake_json(intake)
    if args.json:
        _print_json(data)
        return 0
    for key, value in data.items():
        print(f"{key + ':':<14} {value if value is not None else '-'}")
    return 0


async def _retry(store: ServiceStore, args: argparse.Namespace) -> int:
    from bounced.apply.retry import retry_attributor, retry_intake  # parse + classify: only here

    config: Config = args.loaded_config
    clock = SystemClock()
    attributor = retry_attributor(config, store)
    outcomes: list[RetryOutcome] = []
    if args.id is not None:
        intake = await store.get_intake(args.id)
        if intake is None:
            print(f"bounced: no intake message with id {args.id}", file=sys.stderr)
            return 1
        problem = _not_retryable(intake)
        if problem:
            print(f"bounced: intake {intake.id}: {problem}", file=sys.stderr)
            return 1
        outcomes = await retry_intake(store, [intake], config, clock, attributor)
    else:
        state = IntakeState(args.state)
        after_id, skipped = 0, 0
        while page := await store.list_intake(state, limit=_RETRY_PAGE, after_id=after_id):
            after_id = page[-1].id
            loaded = [m for m in [await store.get_intake(row.id) for row in page] if m is not None]
            ready = [m for m in loaded if not _not_retryable(m)]
            skipped += len(loaded) - len(ready)
            if ready:
                outcomes += await retry_intake(store, ready, config, clock, attributor)
        if skipped:
            print(f"bounced: {skipped} {state.value} messages skipped: raw bytes pruned", file=sys.stderr)
    _report_retries(args, outcomes)
    return 0 if all(o.state is IntakeState.APPLIED for o in outcomes) else 1


def _not_retryable(intake: IntakeMessage) -> str | None:
    if intake.state is IntakeState.APPLIED:
        return "already applied (its events are recorded); nothing to retry"
    if intake.state is IntakeState.PENDING:
        return "pending: the daemon applies it (see `bounced intake list --state pending`)"
    if intake.raw_pruned_at is not None:
        return "raw bytes pruned: nothing to parse"
    return None


def _report_retries(args: argparse.Namespace, outcomes: list[RetryOutcome]) -> None:
    applied = sum(o.state is IntakeState.APPLIED for o in outcomes)
    if args.json:
        _print_json(
            {
                "retried": len(outcomes),
                "applied": applied,
                "results": [
                    {"id": o.intake_id, "state": o.state.value, "new_events": o.new_events,
                     "duplicate_events": o.duplicate_events, "error": o.error}
                    for o in outcomes
                ],
            }
        )  # fmt: skip
        return
    for o in outcomes:
        if o.state is IntakeState.APPLIED:
            print(f"{o.intake_id}: applied, {o.new_events} new events, {o.duplicate_events} already recorded")
        else:
            print(f"{o.intake_id}: still {o.state.value}: {o.error}")
    print(f"retried {len(outcomes)}, applied {applied}, still quarantined {len(outcomes) - applied}")


def _intake_json(row: IntakeSummary | IntakeMessage) -> dict[str, Any]:
    """One shape for `list` and `show`: the envelope, state and error, never the bytes."""
    if isinstance(row, IntakeMessage):
        size, message_type = len(row.raw), None
    else:
        size, message_type = row.size, None if row.message_type is None else row.message_type.value
    data: dict[str, Any] = {
        "id": row.id,
        "received_at": row.received_at.isoformat(),
        "state": row.state.value,
        "attempts": row.attempts,
        "error": row.error,
        "mail_from": row.mail_from,
        "rcpt_tos": list(row.rcpt_tos),
        "peer": row.peer,
        "size": size,
        "raw_pruned_at": None if row.raw_pruned_at is None else row.raw_pruned_at.isoformat(),
    }
    if isinstance(row, IntakeSummary):
        data["message_type"] = message_type
    return data


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def _say(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    if args.json:
        _print_json(data)
    else:
        print(text)


def _print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
