"""What `bounced hooks ...` (and the HTTP API) ask of webhooks: one implementation for both."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bounced.config import Config
from bounced.errors import ConfigError
from bounced.model import WebhookDelivery, WebhookEvent, WebhookState
from bounced.store.base import WebhookStore
from bounced.webhooks.payload import event_dict

__all__ = ["HookEvent", "delivery_dict", "event_dict", "list_deliveries", "replay", "show_dict", "show_event"]


@dataclass(frozen=True, slots=True)
class HookEvent:
    event: WebhookEvent
    deliveries: list[WebhookDelivery]


def delivery_dict(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "delivery_id": delivery.id,
        "hook": delivery.hook,
        "state": delivery.state.value,
        "attempts": delivery.attempts,
        "next_at": delivery.next_at.isoformat(),
        "done_at": None if delivery.done_at is None else delivery.done_at.isoformat(),
        "last_error": delivery.last_error,
        "event": event_dict(delivery.event),
    }


def show_dict(found: HookEvent) -> dict[str, Any]:
    """`hooks show`'s answer: the event once, then its delivery to each hook."""
    deliveries = [delivery_dict(d) for d in found.deliveries]
    for d in deliveries:
        del d["event"]
    return {"event": event_dict(found.event), "deliveries": deliveries}


async def list_deliveries(
    store: WebhookStore,
    hook: str | None = None,
    state: WebhookState | None = None,
    since: datetime | None = None,
    limit: int = 1000,
) -> list[WebhookDelivery]:
    return await store.list_webhook_deliveries(hook, state, since, limit)


async def show_event(store: WebhookStore, event_id: int) -> HookEvent | None:
    event = await store.get_webhook_event(event_id)
    if event is None:
        return None
    return HookEvent(event, await store.webhook_deliveries_for(event_id))


async def replay(
    store: WebhookStore, config: Config, since: datetime, now: datetime, hook: str | None = None
) -> dict[str, int]:
    """Queue again every event since `since` for each hook and broker (or the one named); the
    running daemon sends them at its next poll. Returns how many per hook or broker."""
    sinks = [(key, events) for key, events in config.event_sinks if hook is None or key == hook]
    if not sinks:
        known = ", ".join(key for key, _ in config.event_sinks) or "none configured"
        raise ConfigError("webhooks", f"no hook or broker named {hook!r} (known: {known})")
    return {key: await store.replay_webhooks(key, events, since, now) for key, events in sinks}
