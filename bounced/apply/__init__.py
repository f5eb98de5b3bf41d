"""Apply: turn a spooled message into recorded events, profile changes and suppressions."""

from __future__ import annotations

from bounced.apply.analyse import Analysis, AnalysisOutcome, analyse, bounce_message_id, looks_like_mail
from bounced.apply.attribution import Attributor
from bounced.apply.batch import ApplyResult, apply_batch, apply_intake
from bounced.apply.policy import plan_events
from bounced.apply.workers import Analyser

__all__ = [
    "Analyser",
    "Analysis",
    "AnalysisOutcome",
    "ApplyResult",
    "Attributor",
    "analyse",
    "apply_batch",
    "apply_intake",
    "bounce_message_id",
    "looks_like_mail",
    "plan_events",
]
