"""The normalised diagnostic text every rule reads, and the delay a server asks for in it.

Kept apart from the reason table so that describing report texts does not compile it.
"""

from __future__ import annotations

import re

__all__ = ["MAX_EXAMINED", "asked_delay", "normalise_text"]

MAX_EXAMINED = 8192  # characters of a diagnostic examined; real ones are a few hundred


def normalise_text(text: str) -> str:
    """Lower-cased, whitespace-collapsed, capped copy of a diagnostic."""
    # Cap before any other work so a huge input costs O(cap), not O(len). str.split() splits
    # on exactly the characters `\s` matches, so this equals re.sub(r"\s+", " ", ...).strip().
    return " ".join(text[: MAX_EXAMINED * 2].split()).lower()[:MAX_EXAMINED]


# A delay follows a retry/greylist word within a few words: "greylisted for 120 seconds",
# "try again in 5 minutes", "retry after 60s", "please wait 2 min", "come back in 1 hour".
_DELAY_RE = re.compile(
    r"(?:gr[ae]y-?list\w{0,6}|try again|retry|wait|come back|defer\w{0,4}|resend|later|"
    r"temporarily (?:rejected|blocked)|blocked)"
    r"[^0-9.;]{0,30}?"
    r"(\d{1,7})(?:\.\d+)? ?"
    r"(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h)\b"
)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}


def asked_delay(normalised: str) -> int | None:
    """Seconds a normalised diagnostic asks us to wait before retrying, or None."""
    match = _DELAY_RE.search(normalised)
    if match is None:
        return None
    amount, unit = int(match.group(1)), match.group(2)
    # "min"/"m" = minutes, "s"/"sec" = seconds, "h"/"hr"/"hour" = hours.
    return amount * _UNIT_SECONDS["m" if unit.startswith("m") else unit[0]]
