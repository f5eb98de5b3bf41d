"""Failures read from bounce prose: each recipient (`candidates`) with the codes and words
that follow it.

Shared by the text detectors (X-Failed-Recipients, addresses in prose, flufl.bounce, the
quoted RCPT TO) and by the RFC 3464 detector when a report's fields lack a diagnostic.
"""

from __future__ import annotations

import re

from bounced.model import Action, Failure
from bounced.parse.candidates import prose_candidates
from bounced.parse.context import GIVEN_UP_RE, Context
from bounced.parse.text import clean_diagnostic
from bounced.smtp_reply import find_reply_code, find_status

__all__ = ["failure_near", "failures_for", "transcript_reply"]

# The word lists below are matched against lower-cased text (the regex engine skips ahead on a
# pattern's first characters only without re.IGNORECASE: 4-7x faster on bounce prose).
_DELAY_RE = re.compile(
    r"\bdelay(?:ed)?\b|will (?:retry|continue|keep trying|be retried)|still (?:trying|being retried)|"
    r"not yet been delivered|warning: (?:message|could not)|temporar(?:y|ily) (?:failure|deferred)|"
    r"has been deferred",
)
_PARAGRAPH_RE = re.compile(r"\n[ \t]*\n")


def failure_near(ctx: Context, address: str, window: str, action: Action | None = None) -> Failure:
    """A Failure for `address` with the codes and diagnostic found in `window`."""
    status, reply_code, found_action = _codes_near(ctx, window)
    return Failure(
        recipient=address,
        action=action or found_action,
        status=status,
        reply_code=reply_code,
        diagnostic=clean_diagnostic(window),
    )


def _codes_near(ctx: Context, window: str) -> tuple[str | None, int | None, Action]:
    """(status, reply code, action) that `window` states."""
    status = find_status(window)
    reply_code = find_reply_code(window)
    if reply_code is not None and status is not None and str(reply_code)[0] != status[0]:
        status = None if reply_code >= 400 and status[0] == "2" else status
    klass = status[0] if status else (str(reply_code)[0] if reply_code else "")
    delayed = klass == "4" or (
        not klass and bool(_DELAY_RE.search(ctx.subject.lower()) or _DELAY_RE.search(window.lower()))
    )
    # An MTA that says it gave up has failed the recipient, whatever class its last reply had.
    if delayed and not (GIVEN_UP_RE.search(window.lower()) or ctx.gave_up):
        return status, reply_code, Action.DELAYED
    return status, reply_code, Action.FAILED


def _window(text: str, start: int, stop: int) -> str:
    """The paragraphs from `start`, growing until they hold a reply or status code (bounded)."""
    limit = min(stop, start + 1500)
    chunk = text[start:limit]
    taken: list[str] = []
    for para in _PARAGRAPH_RE.split(chunk):
        taken.append(para)
        if find_reply_code(para) is not None or find_status(para) is not None:
            break
    return "\n".join(taken)


def failures_for(ctx: Context, text: str, candidates: list[str] | None = None) -> list[Failure]:
    """Failures for each candidate address (default: every non-excluded address in `text`),
    each with the diagnostic found after its first mention, up to the next candidate."""
    if candidates is None:
        candidates = prose_candidates(ctx, text)
    seen: dict[str, str] = {}
    for a in candidates:
        seen.setdefault(a.lower(), a)
    if not seen:
        return []
    lowered = text.lower()
    positions: list[tuple[int, str]] = []
    for low, address in seen.items():
        pos = lowered.find(low)
        positions.append((pos if pos >= 0 else len(text), address))
    positions.sort()
    failures: list[Failure] = []
    owned: list[tuple[int, int]] = []  # the paragraphs whose codes a recipient took as its own
    unnamed: set[int] = set()
    session = "rcpt to:<" in lowered and "\n<<<" in text
    for i, (pos, address) in enumerate(positions):
        stop = positions[i + 1][0] if i + 1 < len(positions) else len(text)
        if pos >= len(text):  # not named in the text: its start is all there is
            failures.append(failure_near(ctx, address, text[:1500]))
            unnamed.add(len(failures) - 1)
            continue
        # Start at the address's line, minus the address itself: "<a@b>:" tells nothing new.
        line_start = text.rfind("\n", 0, pos) + 1
        window = _window(text, line_start, stop)
        head = window[: pos - line_start + len(address) + 2].lstrip(" \t<").lower()
        if head.startswith(address.lower()):
            window = window[window.lower().find(address.lower()) + len(address) :].lstrip(">:;, \t")
        # A quoted session's reply to this recipient's own RCPT TO beats whatever codes the
        # words after its name run into (the next paragraph may be the whole transcript).
        own = transcript_reply(text, address) if session else None
        failure = failure_near(ctx, address, own or window)
        if own is None and (failure.reply_code is not None or failure.status is not None):
            para_end = _PARAGRAPH_RE.search(text, pos)
            owned.append((line_start, min(para_end.start() if para_end else stop, stop)))
        failures.append(failure)
    return _shared_codes(ctx, text, failures, owned, unnamed)


def _shared_codes(
    ctx: Context, text: str, failures: list[Failure], owned: list[tuple[int, int]], unnamed: set[int]
) -> list[Failure]:
    """Codes for recipients whose own words carry none (Sendmail and friends print them in a
    transcript further down): the first codes of the text, unless they sit in another
    recipient's own paragraph ("a@x: 550 ..." is a@x's answer, never b@x's)."""
    bare = [f.reply_code is None and f.status is None and i not in unnamed for i, f in enumerate(failures)]
    if not any(bare):
        return failures
    head = text[:6000]
    status, reply_code, action = _codes_near(ctx, head)
    if status is not None and status[0] == "2" and reply_code is None:
        # A success class shared by a failed recipient is someone's version number
        # ("Mailman 2.0.12" in a quoted subject), not the report's code.
        status = None
    code_at = _first_code_at(head, status, reply_code)
    if any(start <= code_at < end for start, end in owned):
        return failures
    return [
        Failure(
            recipient=f.recipient,
            action=action,
            status=status,
            reply_code=reply_code,
            diagnostic=f.diagnostic or clean_diagnostic(head),
        )
        if lacks
        else f
        for f, lacks in zip(failures, bare, strict=True)
    ]


def _first_code_at(text: str, status: str | None, reply_code: int | None) -> int:
    """Where the first of the found codes is written in `text` (-1: nowhere)."""
    spots = [text.find(c) for c in (status, str(reply_code) if reply_code else None) if c]
    return min((at for at in spots if at >= 0), default=-1)


def transcript_reply(text: str, recipient: str) -> str | None:
    """The "<<<" lines of a quoted SMTP session that answer the RCPT TO naming `recipient`."""
    lowered = text.lower()
    at = lowered.find("rcpt to:<" + recipient.lower() + ">") if recipient else -1
    if at < 0:
        return None
    reply = lowered.find("\n<<<", at)
    if reply < 0:
        return None
    end = lowered.find("\n>>>", reply)
    return text[reply + 1 : end if end >= 0 else reply + 500]
