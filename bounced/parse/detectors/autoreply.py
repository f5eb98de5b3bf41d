"""RFC 3834 automatic responses (vacation, out-of-office): the replying address.

Bounces often carry `Auto-Submitted: auto-replied` too, so a message from a mailer daemon,
with a delivery-failure subject or with words that report a failed delivery is never an
auto-reply here.
"""

from __future__ import annotations

import re
from dataclasses import replace

from bounced.model import Failure, MessageType, OriginalMessage
from bounced.parse.context import Context
from bounced.parse.detectors.base import Detection
from bounced.parse.mime import Part, header
from bounced.parse.text import first_address, is_daemon_address
from bounced.parse.wording import bounce_wording

__all__ = ["AutoReply", "read_autoreply"]

_SUBJECT_RE = re.compile(
    r"out of (?:the )?office|auto(?:matic|matische)?[ -]?(?:reply|response|antwort|respuesta|r[ée]ponse)|"
    r"\bauto:|autoreply|abwesenheit|away from|\baway until\b|on vacation|vacation|urlaub|"
    r"r[ée]ponse automatique|absence|risposta automatica|fuera de la oficina|"
    r"自動応答|自動返信|不在",
)
_BOUNCE_SUBJECT_RE = re.compile(
    r"undeliver|delivery (?:status|failure|notification)|returned mail|failure notice|mail delivery|"
    r"non[- ]?delivery|could not be delivered|delivery has failed",
)


def read_autoreply(msg: Part) -> Failure | None:
    sender = first_address(header(msg, "From")) or first_address(header(msg, "Reply-To"))
    if not sender or is_daemon_address(sender):
        return None
    subject = header(msg, "Subject")
    lowered = subject.lower()  # the patterns are lower-case
    if _BOUNCE_SUBJECT_RE.search(lowered):
        return None
    auto_submitted = header(msg, "Auto-Submitted").lower()
    flagged = (
        auto_submitted.startswith("auto-replied")
        or bool(header(msg, "X-Autoreply"))
        or bool(header(msg, "X-Autorespond"))
        or header(msg, "Precedence").lower() in ("auto_reply", "auto-reply")
    )
    if not flagged and not _SUBJECT_RE.search(lowered):
        return None
    diagnostic = " ".join(subject.split())
    return Failure(recipient=sender, reason_hint="vacation", diagnostic=diagnostic)


class AutoReply:
    name = "autoreply"

    def detect(self, ctx: Context) -> Detection | None:
        vacation = read_autoreply(ctx.msg)
        if vacation is None or bounce_wording(ctx):
            return None
        # The message it answers: the returned headers if any, else the one In-Reply-To names.
        original = ctx.original if ctx.original_headers is not None else OriginalMessage()
        in_reply_to = ctx.header("In-Reply-To").strip() or None
        if original.message_id is None and in_reply_to:
            original = replace(original, message_id=in_reply_to)
        return Detection(MessageType.AUTOREPLY, [vacation], original)
