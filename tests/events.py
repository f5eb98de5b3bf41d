"""Bounce events built by hand in tests, keyed as `apply.policy.plan_events` keys them."""

from __future__ import annotations

from dataclasses import replace

from bounced.model import BounceEvent
from bounced.report.bounce_text import normalise_bounce_text

__all__ = ["keyed"]


def keyed(event: BounceEvent) -> BounceEvent:
    """`event` with the report text key policy would give it (the store requires one)."""
    return replace(event, text_key=normalise_bounce_text(event.diagnostic, event.reply_code))
