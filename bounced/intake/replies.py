"""How many SMTP replies of each outcome and code the listener gave: /metrics reads it.

A message is *accepted* when its DATA gets a 2xx; every 4xx/5xx reply (at connect, to RCPT,
to DATA) is a *refusal*, counted by its code. An acceptor process keeps its own tally and
sends what is new to the daemon over the link (`take_new`), where one tally sums them all."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

__all__ = ["ReplyTally", "reply_code"]


def reply_code(line: bytes) -> str | None:
    """The three-digit code that starts an SMTP reply line, or None."""
    code = line[:3]
    return code.decode() if len(code) == 3 and code.isdigit() else None


class ReplyTally:
    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()  # (outcome, code) -> replies
        self._sent: Counter[tuple[str, str]] = Counter()

    def accepted(self, code: str) -> None:
        self.counts["accepted", code] += 1

    def refused(self, code: str) -> None:
        self.counts["refused", code] += 1

    def take_new(self) -> dict[tuple[str, str], int]:
        """What was counted since the last call (for the link to the daemon)."""
        new = {k: n - self._sent[k] for k, n in self.counts.items() if n != self._sent[k]}
        self._sent = Counter(self.counts)
        return new

    def add(self, counts: Mapping[tuple[str, str], int]) -> None:
        self.counts.update(counts)
