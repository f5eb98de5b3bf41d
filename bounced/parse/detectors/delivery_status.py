"""RFC 3464 `message/delivery-status` (and RFC 6533 `message/global-delivery-status`) parts.

Reports whose fields lack a diagnostic or carry only a bare "x.0.0" Status (Exchange, some
gateways) get the words and codes from the recipient's own paragraph of the prose, or from
the session transcript's reply to that recipient's RCPT TO (Sendmail).
"""

from __future__ import annotations

from dataclasses import replace

from bounced.model import Failure
from bounced.parse.context import Context
from bounced.parse.detectors.base import Detection, failed
from bounced.parse.mime import MAX_PARSE_BYTES
from bounced.parse.prose import failures_for, transcript_reply
from bounced.parse.text import clean_diagnostic
from bounced.smtp_reply import find_reply_code

__all__ = ["DeliveryStatus"]


class DeliveryStatus:
    name = "rfc3464"

    def detect(self, ctx: Context) -> Detection | None:
        failures = ctx.dsn[0]
        return failed(_fill_from_prose(ctx, failures)) if failures else None


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
    own = transcript_reply(transcript, f.recipient)
    if own is None and not alone:
        return f
    code = find_reply_code(own or transcript)
    if code is None:
        return f
    text = own or transcript.split("\n", 1)[-1]
    return replace(f, reply_code=code, diagnostic=f.diagnostic or clean_diagnostic(text))


def _more_specific(status: str | None, other: str | None) -> str | None:
    """Keep the DSN's Status unless it is a bare "x.0.0" and the prose has a finer code of the same class."""
    if status is None:
        return other
    if other and status.endswith(".0.0") and other[0] == status[0]:
        return other
    return status
