"""Apply: turn a spooled message into recorded events, profile changes and suppressions."""

from __future__ import annotations

from bounced.apply.apply import ApplyResult, apply_intake, bounce_message_id, looks_like_mail
from bounced.apply.attribution import Attributor
from bounced.apply.policy import plan_events

__all__ = ["ApplyResult", "Attributor", "apply_intake", "bounce_message_id", "looks_like_mail", "plan_events"]
