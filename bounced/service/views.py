"""Read-only views for the CLI and the API: profiles, the bounce event feed, non-deliveries,
the resend queue and the audit log. Each returns the JSON-ready value both front ends print."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bounced.apply.explain import why_not_suppressed
from bounced.apply.policy import hard_reasons_for
from bounced.config import Config
from bounced.model import Profile, ProfileStatus
from bounced.service.errors import InvalidInput
from bounced.service.values import (
    MAX_PAGE,
    audit_dict,
    event_dict,
    job_dict,
    non_delivery_dict,
    parse_when,
    profile_dict,
    suppression_dict,
    valid_address,
    valid_limit,
)
from bounced.store.base import ServiceStore

__all__ = ["ProfileView", "Views"]


@dataclass(frozen=True)
class ProfileView:
    profile: Profile
    data: dict[str, Any]  # the JSON form: profile fields, "suppression", "events"


class Views:
    def __init__(self, store: ServiceStore, config: Config | None = None) -> None:
        self.store = store
        self.config = config  # with it, a profile says why a hard bounce did not suppress

    async def profile(self, email: str, events: int = 10) -> ProfileView | None:
        """None: never bounced, never suppressed."""
        address = valid_address(email)
        if events < 0:
            raise InvalidInput("events", f"expected 0 or more, got {events}")
        profile = await self.store.get_profile(address)
        entry = await self.store.get_suppression(address)
        if profile is None and entry is None:
            return None
        every = await self.store.events_for(address)
        history = every[-events:] if events > 0 else []
        if profile is None:
            profile = Profile(address=address, status=ProfileStatus.ACTIVE)
        data = profile_dict(profile)
        data["suppression"] = suppression_dict(entry)
        data["events"] = [event_dict(e) for e in history]
        data["events_total"] = len(every)  # more than shown: the latest `events` of these
        data["not_suppressed_because"] = None
        if entry is None and profile.hard_bounce_count and self.config is not None:
            audit = await self.store.audit_entries(address)
            data["not_suppressed_because"] = why_not_suppressed(
                profile, every, audit, self.config.verp, hard_reasons_for(self.config.classify.preset)
            )
        return ProfileView(profile, data)

    async def events_feed(self, after: int = 0, limit: int = 1000) -> dict[str, Any]:
        """Events with id > after; `next_after` is the cursor of the following page (the
        last id given, or `after` again when nothing new: poll with it)."""
        if after < 0:
            raise InvalidInput("after", f"expected an event id (0 or more), got {after}")
        valid_limit(limit)
        events = await self.store.events_after(after, limit)
        return {
            "events": [event_dict(e) for e in events],
            "next_after": events[-1].id if events else after,
            "more": len(events) == limit,
        }

    async def non_deliveries(
        self,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
        mailing_id: str | None = None,
        limit: int = 10_000,
    ) -> dict[str, Any]:
        """Non-delivery events in [since, until), oldest first: a bare date is midnight UTC at
        the start of that day, so `until` excludes it (one meaning of a period everywhere)."""
        valid_limit(limit, maximum=max(MAX_PAGE, 10_000))
        start = parse_when(since, "from") if isinstance(since, str) and since else since or None
        end = parse_when(until, "to") if isinstance(until, str) and until else until or None
        if start is not None and end is not None and end <= start:
            raise InvalidInput("to", f"{end.isoformat()} must be after from ({start.isoformat()})")
        rows = await self.store.list_non_deliveries(start, end, mailing_id, limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return {"non_deliveries": [non_delivery_dict(r) for r in rows], "truncated": more, "limit": limit}

    async def queue(
        self,
        limit: int = 1000,
        include_first: bool = False,
        recipient: str | None = None,
        submission_id: int | None = None,
    ) -> dict[str, Any]:
        valid_limit(limit)
        jobs = await self.store.list_resends(
            limit=limit + 1, include_first=include_first, recipient=recipient, submission_id=submission_id
        )
        more = len(jobs) > limit
        counts = await self.store.queue_counts()
        return {
            "jobs": [job_dict(j) for j in jobs[:limit]],
            "counts": counts,
            "truncated": more,
            "limit": limit,
        }

    async def audit(self, email: str | None = None) -> list[dict[str, Any]]:
        address = valid_address(email) if email is not None else None
        return [audit_dict(e) for e in await self.store.audit_entries(address)]
