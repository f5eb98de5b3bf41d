"""`bounced suppression show ADDR --why`: the evidence behind a suppression.

The entry, the bounce event(s) that could suppress the address (hard, complaint, the one
the entry names), each with its diagnostic, the classification rule that decided it
(re-derived under the current config for events stored before the rule was kept),
signed or not, the raw bounce message while retention keeps it, quarantine entries and
the audit log.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from bounced.config import Config
from bounced.model import BounceEvent, BounceKind, SuppressionEntry
from bounced.store.base import ServiceStore

__all__ = ["explain"]

_EVIDENCE = (BounceKind.HARD, BounceKind.COMPLAINT)


async def explain(
    store: ServiceStore, config: Config, address: str, entry: SuppressionEntry | None, as_json: bool
) -> None:
    events = [
        e
        for e in await store.events_for(address)
        if e.kind in _EVIDENCE or (entry is not None and e.id == entry.bounce_event_id)
    ]
    if (
        entry is not None
        and entry.bounce_event_id is not None
        and all(e.id != entry.bounce_event_id for e in events)
    ):
        named = await store.get_event(entry.bounce_event_id)
        if named is not None:
            events.append(named)
    shown = [await _event(store, config, e, entry) for e in events]
    quarantine = [
        q for q in await store.list_quarantine(None) if q.address == (entry.address if entry else address)
    ]
    audit = await store.audit_entries(address)
    if as_json:
        data = {
            "address": address,
            "suppressed": entry is not None,
            "entry": None if entry is None else {
                "reason": entry.reason, "created_at": entry.created_at.isoformat(),
                "created_by": entry.created_by, "bounce_event_id": entry.bounce_event_id, "note": entry.note,
            },
            "events": shown,
            "quarantine": [{"id": q.id, "state": q.state, "event": q.bounce_event_id,
                            "decided_by": q.decided_by} for q in quarantine],
            "audit": [{"at": a.at.isoformat(), "actor": a.actor, "action": a.action, "reason": a.reason}
                      for a in audit],
        }  # fmt: skip
        json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return
    if entry is None:
        print(f"{address}: not suppressed")
    else:
        since = f"{entry.created_at:%Y-%m-%d %H:%M:%S} UTC"
        print(f"{entry.address}: suppressed since {since} by {entry.created_by}")
        print(f"  reason: {entry.reason}" + (f"  note: {entry.note}" if entry.note else ""))
    for item in shown:
        mark = "  * " if item["decided"] else "    "
        print(f"{mark}event {item['id']} at {item['received_at']}: {item['kind']} {item['reason']}"
              f" status {item['status'] or '-'} reply {item['reply_code'] or '-'}"
              f" {'signed' if item['signed'] else 'UNSIGNED'} via {item['source']}")  # fmt: skip
        print(f"      rule: {item['rule']}")
        print(f"      diagnostic: {item['diagnostic']}")
        if item["raw"] is not None:
            print(f"      raw message (intake {item['intake_id']}):")
            for line in item["raw"].splitlines():
                print(f"        | {line}")
        elif item["intake_id"] is not None:
            print(f"      raw message: not kept (intake {item['intake_id']}: {item['raw_note']})")
    for q in quarantine:
        print(f"  quarantine entry {q.id}: {q.state} (event {q.bounce_event_id})")
    for a in audit:
        print(f"  audit {a.at:%Y-%m-%d %H:%M:%S} {a.action} by {a.actor}: {a.reason}")


async def _event(
    store: ServiceStore, config: Config, event: BounceEvent, entry: SuppressionEntry | None
) -> dict[str, Any]:
    from bounced.apply.simulate import reclassify  # the classifier loads only when needed

    rule = event.rule or f"{reclassify(event, config).rule} (re-derived under the current config)"
    raw, raw_note = None, ""
    if event.intake_id is not None:
        intake = await store.get_intake(event.intake_id)
        if intake is None:
            raw_note = "gone"
        elif intake.raw_pruned_at is not None or not intake.raw:
            raw_note = (
                f"dropped by retention on {intake.raw_pruned_at:%Y-%m-%d}"
                if intake.raw_pruned_at
                else "empty"
            )
        else:
            raw = intake.raw.decode("utf-8", "replace")
    return {
        "id": event.id,
        "decided": entry is not None and event.id == entry.bounce_event_id,
        "received_at": event.received_at.isoformat(),
        "kind": event.kind.value,
        "reason": event.reason.value,
        "status": event.status,
        "reply_code": event.reply_code,
        "diagnostic": event.diagnostic,
        "rule": rule,
        "signed": event.signed,
        "source": event.source,
        "intake_id": event.intake_id,
        "delivery_id": event.delivery_id,
        "raw": raw,
        "raw_note": raw_note,
    }
