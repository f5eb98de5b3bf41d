"""The scan: ordered detectors over one message, first that finds anything wins.

Order: ARF feedback reports, RFC 3464 delivery-status parts, provider formats, RFC 3834
auto-replies, then heuristics (X-Failed-Recipients, bounce prose, flufl.bounce).
"""

from __future__ import annotations

import re
from dataclasses import replace

from bounced.model import Failure, MessageType, OriginalMessage, ParsedMessage
from bounced.parse.address import drop_glued_copies, valid_recipient
from bounced.parse.arf import is_feedback_report, read_feedback_report
from bounced.parse.autoreply import read_autoreply
from bounced.parse.cut import fit_for_parsing
from bounced.parse.detectors import FALLBACK_DETECTORS, FORMAT_DETECTORS
from bounced.parse.detectors.amazonses import is_ses_json, read_ses_json
from bounced.parse.detectors.base import Context, build_context, failures_for
from bounced.parse.detectors.generic import bounce_wording
from bounced.parse.dsn import read_dsn
from bounced.parse.mime import MAX_PARSE_BYTES, Part, header, iter_parts, parse_bytes
from bounced.parse.original import find_original_headers, original_from_headers
from bounced.parse.stage import with_smtp_commands
from bounced.parse.text import clean_diagnostic, find_addresses, find_reply_code, first_address

__all__ = ["scan"]

_ENVELOPE_HEADERS = ("x-original-to", "delivered-to", "envelope-to", "x-envelope-to", "x-apparently-to")
_ENVELOPE_RE = re.compile(r"\n(?:" + "|".join(_ENVELOPE_HEADERS) + r")[ \t]*:")
MAX_FAILURES = 500


def _defects(msg: Part) -> tuple[str, ...]:
    found: list[str] = []
    for _, part in iter_parts(msg):
        for defect in part.defects:
            if defect not in found:
                found.append(defect)
            if len(found) >= 20:
                return tuple(found)
    return tuple(found)


def _envelope_to(msg: Part) -> tuple[str, ...]:
    if not _ENVELOPE_RE.search(msg.lowered_head):  # one scan instead of five lookups
        return ()
    seen: list[str] = []
    for name in _ENVELOPE_HEADERS:
        for value in msg.get_all(name):
            for address in find_addresses(value):
                if address not in seen:
                    seen.append(address)
    return tuple(seen)


def _fill_from_prose(ctx: Context, failures: list[Failure]) -> list[Failure]:
    """DSN fields without a diagnostic (Exchange, some gateways): take it from the prose."""
    filled: list[Failure] = []
    prose: dict[str, Failure] | None = None
    for f in failures:
        generic = f.status is None or f.status.endswith(".0.0")
        if f.diagnostic and not generic:
            # The server's words and a specific code: only a transcript can add a reply code.
            filled.append(_from_transcript(ctx, f, alone=len(failures) == 1) if f.reply_code is None else f)
            continue
        if prose is None:
            # Every recipient the prose names, read at once: one's words end where the next
            # recipient is named ("a@x: 550 ...\nb@x: 552 ..."), never run into its neighbour's.
            lowered = ctx.human.lower()
            named = [x.recipient for x in failures if x.recipient and x.recipient.lower() in lowered]
            prose = {g.recipient.lower(): g for g in failures_for(ctx, ctx.human, named)} if named else {}
        g = prose.get(f.recipient.lower())
        if g is None:
            filled.append(_from_transcript(ctx, f, alone=len(failures) == 1))
            continue
        filled.append(
            replace(
                f,
                diagnostic=f.diagnostic or g.diagnostic,
                reply_code=f.reply_code if f.reply_code is not None else g.reply_code,
                status=_more_specific(f.status, g.status),
            )
        )
    return filled


def _from_transcript(ctx: Context, f: Failure, alone: bool) -> Failure:
    """Sendmail names no recipient in its prose, but the session transcript holds the reply:
    the one answering ">>> RCPT To:<this recipient>", else (for a lone recipient) the first."""
    if f.reply_code is not None or ctx.raw.find(b"Transcript of session follows", 0, MAX_PARSE_BYTES) < 0:
        return f
    at = ctx.human.find("Transcript of session follows")
    if at < 0:
        return f
    transcript = ctx.human[at : at + 3000]
    own = _own_reply(transcript, f.recipient)
    if own is None and not alone:
        return f
    code = find_reply_code(own or transcript)
    if code is None:
        return f
    text = own or transcript.split("\n", 1)[-1]
    return replace(f, reply_code=code, diagnostic=f.diagnostic or clean_diagnostic(text))


def _own_reply(transcript: str, recipient: str) -> str | None:
    """The "<<<" lines answering the RCPT TO that names `recipient`, if the transcript has it."""
    lowered = transcript.lower()
    at = lowered.find("rcpt to:<" + recipient.lower() + ">")
    if at < 0 or not recipient:
        return None
    reply = lowered.find("\n<<<", at)
    if reply < 0:
        return None
    end = lowered.find("\n>>>", reply)
    return transcript[reply + 1 : end if end >= 0 else reply + 500]


def _more_specific(status: str | None, other: str | None) -> str | None:
    """Keep the DSN's Status unless it is a bare "x.0.0" and the prose has a finer code of the same class."""
    if status is None:
        return other
    if other and status.endswith(".0.0") and other[0] == status[0]:
        return other
    return status


def _valid_unique(failures: list[Failure]) -> tuple[tuple[Failure, ...], bool]:
    """The one exit check: only valid mailboxes (`address.valid_recipient`), no address
    twice, no copy of another with text glued to its front; at most MAX_FAILURES (and
    whether that cap cut)."""
    checked: list[Failure] = []
    for f in failures:
        address = valid_recipient(f.recipient)
        if address is not None:
            checked.append(f if address == f.recipient else replace(f, recipient=address))
    glued = drop_glued_copies(f.recipient for f in checked) if len(checked) > 1 else set()
    seen: set[str] = set()
    kept: list[Failure] = []
    for f in checked:
        key = f.recipient.lower()
        if key in seen or key in glued:
            continue
        if len(kept) >= MAX_FAILURES:
            return tuple(kept), True
        seen.add(key)
        kept.append(f)
    return tuple(kept), False


def scan(raw: bytes) -> ParsedMessage:
    raw, cut = fit_for_parsing(raw)
    truncated: tuple[str, ...] = ("max_parse_bytes",) if cut else ()
    msg = parse_bytes(raw)
    ctx = build_context(msg, raw)
    dsn_failures, dsn_fields = read_dsn(msg)
    original_headers = find_original_headers(msg, lambda: ctx.tail)
    fallback_return_path = first_address(dsn_fields.get("x-postfix-sender", ""))
    original = original_from_headers(original_headers, fallback_return_path)
    ctx.original_to = original.to_address
    for address in (original.from_address, original.return_path):
        if address:
            ctx.exclude(address)

    def result(kind: MessageType, failures: list[Failure], orig: OriginalMessage = original) -> ParsedMessage:
        kept, capped = _valid_unique(
            with_smtp_commands(ctx, failures) if kind is MessageType.DSN else failures
        )
        return ParsedMessage(
            message_type=kind,
            failures=kept,
            original=orig,
            subject=ctx.subject or None,
            envelope_to=_envelope_to(msg),
            defects=_defects(msg),
            truncated=(*truncated, *(("max_failures",) if capped else ())),
        )

    if is_feedback_report(msg):
        # A report that names no recipient is still a complaint: the VERP envelope may tell whose.
        return result(MessageType.ARF, read_feedback_report(msg, original_headers))
    if dsn_failures:
        return result(MessageType.DSN, _fill_from_prose(ctx, dsn_failures))
    if is_ses_json(ctx):  # JSON is read as JSON, never scanned as text
        kind, failures = read_ses_json(ctx)
        return result(kind if failures else MessageType.NONE, failures)
    for detector in FORMAT_DETECTORS:
        failures = detector.detect(ctx)
        if failures:
            return result(MessageType.DSN, failures)
    vacation = read_autoreply(msg)
    # Bounces often carry "Auto-Submitted: auto-replied" too; one whose words say so is no vacation.
    if vacation is not None and not bounce_wording(ctx):
        orig = (
            original
            if original_headers is not None
            else OriginalMessage(message_id=None, to_address=None, from_address=None)
        )
        in_reply_to = header(msg, "In-Reply-To").strip() or None
        if orig.message_id is None and in_reply_to:
            orig = replace(orig, message_id=in_reply_to)
        return result(MessageType.AUTOREPLY, [vacation], orig)
    nested_failures, _ = read_dsn(msg, nested=True)  # a report inside an attached message
    if nested_failures:
        return result(MessageType.DSN, nested_failures)
    for detector in FALLBACK_DETECTORS:
        failures = detector.detect(ctx)
        if failures:
            return result(MessageType.DSN, failures)
    return result(MessageType.NONE, [])
