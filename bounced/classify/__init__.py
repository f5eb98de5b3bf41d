"""Classification: each parsed failure becomes a kind (hard/soft/blocked/...) and a reason.

Pure functions over values and config; no I/O.
"""

from __future__ import annotations

from bounced.classify.classify import classify_failure, classify_message, decide_reason
from bounced.classify.reasons import detect_reason, retry_after_seconds
from bounced.classify.soft_texts import describe_bounce_text

__all__ = [
    "classify_failure",
    "classify_message",
    "decide_reason",
    "describe_bounce_text",
    "detect_reason",
    "retry_after_seconds",
]
