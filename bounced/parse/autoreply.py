"""RFC 3834 automatic responses (vacation, out-of-office): the replying address.

Bounces often carry `Auto-Submitted: auto-replied` too, so a message from a mailer daemon or
with a delivery-failure subject is never an auto-reply here.
"""

from __future__ import annotations

import re

from bounced.model import Failure
from bounced.parse.mime import Part, header
from bounced.parse.text import first_address, is_daemon_address

__all__ = ["read_autoreply"]

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
