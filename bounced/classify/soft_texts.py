"""Known soft-bounce texts: a short label and a plain description, for the soft-bounce report.

`describe_bounce_text(diagnostic, reply_code, reason)` looks the text up in `SOFT_TEXTS`
(first match wins; the product's five documented texts first), then falls back to a generic
description of the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bounced.classify.diagnostic import asked_delay, normalise_text
from bounced.model import Reason
from bounced.smtp_reply import find_reply_code

__all__ = ["REASON_DESCRIPTIONS", "SOFT_TEXTS", "SoftText", "describe_bounce_text"]


@dataclass(frozen=True, slots=True)
class SoftText:
    label: str
    description: str
    pattern: re.Pattern[str]  # over the normalised (lower-cased, single-spaced) text
    reply_codes: tuple[int, ...] = ()  # empty: any code


def _entry(label: str, description: str, pattern: str, *codes: int) -> SoftText:
    return SoftText(label, description, re.compile(pattern), tuple(codes))


SOFT_TEXTS: tuple[SoftText, ...] = (
    # The five texts documented by the product, with their documented meanings.
    _entry(
        "Sender authentication failed (temporary)",
        "Message source blocked temporarily because sender authentication rules matched: "
        "check SPF, DKIM and DMARC of the sending domain.",
        r"message source blocked temporarily.{0,20}sender authentication",
    ),
    _entry(
        "Service temporarily unavailable",
        "The recipient server is overloaded or in maintenance; it will accept mail again later.",
        r"service (?:is )?temporarily unavailable",
    ),
    _entry(
        "Policy rejection (temporary)",
        "The recipient server rejected the recipient under a temporary policy (intentional "
        "policy rejection); retry later.",
        r"intentional policy rejection",
    ),
    _entry(
        "Greylisted",
        "Greylisting: the recipient server defers first contact from an unknown sender; "
        "retry after the delay it names.",
        r"gr[ae]y-?list",
    ),
    _entry(
        "Try again later",
        "A temporary issue on the recipient server; retry later.",
        r"^(?:\d{3}[ -])?(?:\d\.\d{1,3}\.\d{1,3} )?please try again later\.?$",
    ),
    # Common soft texts seen in real bounces.
    _entry(
        "Mailbox full",
        "The recipient's mailbox is over its quota; delivery may succeed once they free space.",
        r"mail ?box (?:is )?full|over (?:the )?(?:disk )?quota|quota exceeded|insufficient (?:storage|space)",
    ),
    _entry(
        "Message too big",
        "The message is larger than the recipient server accepts right now.",
        r"(?:message|mail) (?:size|too big|too large)|size (?:limit|exceeds)",
    ),
    _entry(
        "Rate limited",
        "The recipient server limits how fast it accepts mail from this sender; slow down and retry.",
        r"rate[ -]limit|too many (?:messages|mails?|emails?)|throttl|sending too fast",
    ),
    _entry(
        "Too many connections",
        "The recipient server refused another concurrent connection from this sending IP.",
        r"too many (?:concurrent )?(?:connections|sessions)|connection (?:rate )?limit",
    ),
    _entry(
        "Sender reputation (temporary)",
        "Mail from this sending IP or domain is deferred because of its reputation or user complaints.",
        r"reputation|user complaints|temporarily deferred due to",
    ),
    _entry(
        "Temporarily blocked",
        "The recipient server temporarily blocks mail from this sending IP or domain.",
        r"block|black ?list|\brbl\b|spamhaus",
    ),
    _entry(
        "DNS failure",
        "A DNS lookup for the recipient domain failed temporarily.",
        r"dns|name server|nameserver|host (?:name )?(?:lookup|not found)",
    ),
    _entry(
        "Network failure",
        "The recipient server could not be reached (connection refused, timed out or lost).",
        r"connection (?:refused|timed out|lost|reset|closed)|no route to host|unreachable|timed? ?out",
    ),
    _entry(
        "Delivery expired",
        "The message stayed in the queue past the retry period without being delivered.",
        r"expired|in the queue too long|giving up|retry timeout|delivery time",
    ),
    # A delay notice (Action: delayed) whose text names no cause: not a failure yet. After
    # "Delivery expired" (a text that says both is final); a named cause (network, full
    # mailbox ...) matches its own entry first and says more.
    _entry(
        "Delivery delayed",
        "A delay notice: the message is not delivered yet and the reporting server is still "
        "retrying; nothing to do unless it gives up.",
        r"\bdelay(?:ed)?\b|still (?:undelivered|not (?:been )?delivered|queued|trying)|will keep trying"
        r"|warning message only|not (?:yet )?been delivered yet|continue to (?:try|retry)",
    ),
    _entry(
        "Recipient server busy",
        "The recipient server had a temporary local problem processing the message.",
        r"(?:local|temporary|internal) (?:error|problem|failure)|resources|try again",
    ),
)

REASON_DESCRIPTIONS: dict[Reason, tuple[str, str]] = {
    Reason.MAILBOXFULL: ("Mailbox full", "The recipient's mailbox is full."),
    Reason.MESGTOOBIG: ("Message too big", "The message is too big for the recipient server."),
    Reason.EXCEEDLIMIT: ("Limit exceeded", "The message exceeded a limit of the recipient server."),
    Reason.GREYLISTED: ("Greylisted", "Greylisting: the recipient server asks to retry later."),
    Reason.SPEEDING: ("Rate limited", "The recipient server limits the sending rate."),
    Reason.TOOMANYCONN: ("Too many connections", "Too many concurrent connections to the server."),
    Reason.SYSTEMFULL: ("Server full", "The recipient server's disk or spool is full."),
    Reason.SYSTEMERROR: ("Server error", "A temporary issue on the recipient server."),
    Reason.NETWORKERROR: ("Network error", "A DNS or network failure reaching the recipient."),
    Reason.EXPIRED: ("Delivery expired", "The message could not be delivered within the retry period."),
    Reason.NOTACCEPT: ("Not accepting mail", "The recipient server does not accept mail right now."),
    Reason.BLOCKED: ("Blocked", "The recipient server blocked the sending IP or domain."),
    Reason.BADREPUTATION: ("Bad reputation", "Deferred for the sending IP's or domain's reputation."),
    Reason.REQUIREPTR: ("Reverse DNS", "The sending IP has no valid reverse DNS (PTR) record."),
    Reason.AUTHFAILURE: ("Authentication", "SPF, DKIM or DMARC of the sending domain failed."),
    Reason.SPAMDETECTED: ("Spam suspected", "The message was held as possible spam."),
    Reason.VIRUSDETECTED: ("Virus suspected", "The message was held by a virus scanner."),
    Reason.POLICYVIOLATION: ("Policy", "The message was deferred by a policy of the recipient server."),
    Reason.REJECTED: ("Sender rejected", "The envelope sender was rejected (temporarily)."),
    Reason.SECURITYERROR: ("Security", "A security check of the recipient server failed."),
    Reason.FAILEDSTARTTLS: ("TLS failure", "TLS negotiation with the recipient server failed."),
    Reason.CONTENTERROR: ("Content", "The recipient server could not accept the message content."),
    Reason.USERUNKNOWN: ("Recipient unknown", "The recipient address is unknown (temporary answer)."),
    Reason.HOSTUNKNOWN: ("Domain unknown", "The recipient domain could not be resolved."),
    Reason.SUSPEND: ("Account suspended", "The recipient's account is suspended or inactive."),
    Reason.FILTERED: ("Filtered", "The recipient's filters refused the message."),
    Reason.NORELAYING: ("Relaying denied", "The server refused to relay for this domain."),
    Reason.HASMOVED: ("Mailbox moved", "The recipient's mailbox has moved."),
    Reason.SYNTAXERROR: ("SMTP syntax error", "The recipient server rejected an SMTP command."),
    Reason.MAILERERROR: ("Mailer error", "The local delivery program on the recipient server failed."),
    Reason.NOTCOMPLIANTRFC: ("Not RFC compliant", "The message does not comply with RFC 5322."),
    Reason.ONHOLD: ("On hold", "The bounce gives too little detail to say why."),
    Reason.UNDEFINED: ("Undefined", "The bounce does not say why delivery failed."),
}


def describe_bounce_text(diagnostic: str, reply_code: int | None, reason: str) -> tuple[str, str]:
    """(short label, description) of a bounce text, for the soft-bounce report."""
    text = normalise_text(diagnostic or "")
    code = reply_code if reply_code is not None else (find_reply_code(text) if text else None)
    for entry in SOFT_TEXTS:
        if entry.reply_codes and code not in entry.reply_codes:
            continue
        if text and entry.pattern.search(text):
            if entry.label == "Greylisted":
                delay = asked_delay(text)
                if delay is not None:
                    return entry.label, entry.description.replace("the delay it names", f"{delay} seconds")
            return entry.label, entry.description
    try:
        known = Reason(reason)
    except ValueError:
        known = Reason.UNDEFINED
    label, description = REASON_DESCRIPTIONS.get(known, REASON_DESCRIPTIONS[Reason.UNDEFINED])
    return label, description
