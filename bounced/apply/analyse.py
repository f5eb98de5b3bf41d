"""The pure half of applying a bounce: is it mail, what does it say, how is it classified.

`analyse(raw, classify_config)` takes bytes and returns a value, touching no store, clock or
loop, so it can run in a worker process (`bounced.apply.workers`); the result pickles
(cheaply: `pickled_by_constructor`). What policy derives from the message alone is computed
here too, off the daemon's process (`policy.precompute`: each failure's report text key, the
original's From domain).
Content never makes it raise: input that is not mail is `unparseable`, and a parser or
classifier crash is `crashed` (the message is quarantined for a human, since a pure step
fails the same way every time).
"""

from __future__ import annotations

import enum
import re
import traceback
from collections.abc import Sequence
from dataclasses import dataclass

from bounced.apply.policy import Precomputed, precompute
from bounced.classify.classify import classify_message
from bounced.config.classify import ClassifyConfig
from bounced.errors import ParseError
from bounced.model import ClassifiedFailure, ParsedMessage
from bounced.parse import parse_message
from bounced.pickling import pickled_by_constructor

__all__ = ["Analysis", "AnalysisOutcome", "analyse", "analyse_many", "bounce_message_id", "looks_like_mail"]

# RFC 5322 field name: printable ASCII except colon; or an mbox "From " separator line.
_FIRST_LINE = re.compile(rb"^(?:[!-9;-~]+[ \t]*:|From )")
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_MESSAGE_ID = re.compile(rb"^message-id[ \t]*:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)


class AnalysisOutcome(enum.StrEnum):
    PARSED = "parsed"
    UNPARSEABLE = "unparseable"  # not a mail message at all
    CRASHED = "crashed"  # the parser or classifier raised: a bug, quarantine the message


@pickled_by_constructor
@dataclass(frozen=True, slots=True)
class Analysis:
    outcome: AnalysisOutcome
    parsed: ParsedMessage | None = None
    classified: tuple[ClassifiedFailure, ...] = ()
    bounce_id: str | None = None  # the bounce's own Message-ID (see `bounce_message_id`)
    error: str | None = None  # why unparseable, or what crashed
    stage: str | None = None  # "parse" or "classify" when crashed
    trace: str | None = None  # the crash's traceback, for the log of the process that records it
    precomputed: Precomputed | None = None  # policy.precompute(classified, parsed)


def looks_like_mail(raw: bytes) -> bool:
    """False for input with no header at all (empty, binary junk): not a message to parse."""
    head = raw.lstrip(b"\r\n \t")[:1000]
    return bool(head) and _FIRST_LINE.match(head) is not None


def bounce_message_id(raw: bytes) -> str | None:
    """The bounce message's own Message-ID (not the returned original's): what tells a
    retransmitted bounce from a new bounce about the same original message."""
    end = _HEADER_END.search(raw, 0, 64 * 1024)
    match = _MESSAGE_ID.search(raw, 0, end.start() if end else min(len(raw), 64 * 1024))
    if match is None:
        return None
    value = b" ".join(match.group(1).split()).decode("ascii", "replace").strip()
    return value[:998] or None


def analyse(raw: bytes, classify_config: ClassifyConfig) -> Analysis:
    """Parse and classify one spooled message; never raises for its content."""
    if not looks_like_mail(raw):
        return Analysis(AnalysisOutcome.UNPARSEABLE, error="no message header found")
    try:
        parsed = parse_message(raw)
    except ParseError as exc:
        return Analysis(AnalysisOutcome.UNPARSEABLE, error=str(exc) or "not a mail message")
    except Exception as exc:  # a parser bug: keep the message for a human, do not loop on it
        return _crashed("parse", exc)
    try:
        classified = tuple(classify_message(parsed, classify_config))
        precomputed = precompute(classified, parsed)
    except Exception as exc:  # a classifier (or normaliser) bug, same treatment
        return _crashed("classify", exc)
    return Analysis(
        AnalysisOutcome.PARSED, parsed, classified, bounce_message_id(raw), precomputed=precomputed
    )


def analyse_many(raws: Sequence[bytes], classify_config: ClassifyConfig) -> list[Analysis]:
    """`analyse` over a chunk: one round trip to a worker process per chunk, not per message."""
    return [analyse(raw, classify_config) for raw in raws]


def _crashed(stage: str, exc: Exception) -> Analysis:
    return Analysis(
        AnalysisOutcome.CRASHED,
        error=f"{stage} crashed: {type(exc).__name__}: {exc}",
        stage=stage,
        trace="".join(traceback.format_exception(exc)),
    )
