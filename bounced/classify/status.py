"""SMTP reply codes (RFC 5321) and enhanced status codes (RFC 3463): classes and meanings.

Pure helpers over strings and ints (finding the codes in text: `bounced.smtp_reply`).
The code -> reason table follows the RFC 3463 subjects
(X.1 addressing, X.2 mailbox, X.3 mail system, X.4 network, X.5 protocol, X.6 content,
X.7 security) and the detail codes registered since (RFC 7372, RFC 7505, RFC 8461 ...).
"""

from __future__ import annotations

from bounced.model import Reason
from bounced.smtp_reply import normalise_status

__all__ = ["STATUS_REASONS", "reason_for_status", "reply_class", "status_class"]

# Detail codes first; a subject default (`X.Y`) applies when the detail is not listed.
# The class digit is ignored: 4.2.2 and 5.2.2 mean the same thing, only the lifetime differs.
STATUS_REASONS: dict[str, Reason] = {
    "1.0": Reason.USERUNKNOWN,  # X.1.0 other address status
    "1.1": Reason.USERUNKNOWN,  # bad destination mailbox address
    "1.2": Reason.HOSTUNKNOWN,  # bad destination system address
    "1.3": Reason.USERUNKNOWN,  # bad destination mailbox address syntax
    "1.4": Reason.FILTERED,  # destination mailbox address ambiguous
    "1.6": Reason.HASMOVED,  # mailbox has moved, no forwarding address
    "1.7": Reason.REJECTED,  # bad sender's mailbox address syntax
    "1.8": Reason.REJECTED,  # bad sender's system address
    "1.9": Reason.SYSTEMERROR,  # relayed to non-compliant mailer
    "1.10": Reason.NOTACCEPT,  # recipient address has null MX (RFC 7505)
    "2.0": Reason.FILTERED,  # other mailbox status
    "2.1": Reason.FILTERED,  # mailbox disabled: in practice a filter or unknown user
    "2.2": Reason.MAILBOXFULL,
    "2.3": Reason.EXCEEDLIMIT,  # message length exceeds administrative limit
    "2.4": Reason.FILTERED,  # mailing list expansion problem
    "3.0": Reason.SYSTEMERROR,
    "3.1": Reason.SYSTEMFULL,
    "3.2": Reason.NOTACCEPT,  # system not accepting network messages
    "3.3": Reason.SYSTEMERROR,
    "3.4": Reason.MESGTOOBIG,
    "3.5": Reason.SYSTEMERROR,
    "4.0": Reason.NETWORKERROR,
    "4.1": Reason.EXPIRED,  # no answer from host
    "4.2": Reason.NETWORKERROR,  # bad connection
    "4.3": Reason.SYSTEMERROR,  # directory server failure
    "4.4": Reason.HOSTUNKNOWN,  # unable to route
    "4.5": Reason.SYSTEMFULL,  # mail system congestion
    "4.6": Reason.NETWORKERROR,  # routing loop
    "4.7": Reason.EXPIRED,  # delivery time expired
    "5.3": Reason.TOOMANYCONN,  # too many recipients
    "5.4": Reason.SYNTAXERROR,  # invalid command arguments
    "5.5": Reason.SYSTEMERROR,  # wrong protocol version
    "5.6": Reason.SECURITYERROR,
    "6": Reason.CONTENTERROR,  # subject default: media errors
    "7": Reason.SECURITYERROR,  # subject default: security or policy status
    "7.1": Reason.SECURITYERROR,  # delivery not authorized: refined by the text
    "7.13": Reason.SUSPEND,  # user account disabled (RFC 3463 update)
    "7.16": Reason.MESGTOOBIG,  # too big for the specified priority
    "7.17": Reason.HASMOVED,  # mailbox owner has changed (RFC 7293)
    "7.18": Reason.HASMOVED,  # domain owner has changed
    "7.20": Reason.AUTHFAILURE,  # no passing DKIM signature (RFC 7372)
    "7.21": Reason.AUTHFAILURE,
    "7.22": Reason.AUTHFAILURE,
    "7.23": Reason.AUTHFAILURE,  # SPF validation failed
    "7.24": Reason.AUTHFAILURE,  # SPF validation error
    "7.25": Reason.REQUIREPTR,  # reverse DNS validation failed
    "7.26": Reason.AUTHFAILURE,  # multiple authentication checks failed
    "7.27": Reason.NOTACCEPT,  # sender address has null MX
    "7.28": Reason.SPAMDETECTED,  # mail flood detected (RFC 8651 era registry)
    "7.29": Reason.SECURITYERROR,
    "7.30": Reason.SECURITYERROR,
}


def status_class(status: str | None) -> int | None:
    """2, 4 or 5 (success, persistent transient, permanent); None when absent or malformed."""
    normalised = normalise_status(status)
    return int(normalised[0]) if normalised else None


def reply_class(code: int | None) -> int | None:
    """2, 3, 4 or 5 for an SMTP reply code; None when absent or out of range."""
    if code is None or not 200 <= code <= 599:
        return None
    return code // 100


def reason_for_status(status: str | None) -> Reason | None:
    """The RFC 3463 meaning of a code as a reason; None when the code says nothing specific.

    X.0.0 and the bare subjects X.1/X.2... "other" codes say nothing beyond their class,
    so they map only where the subject itself is specific (X.6 media, X.7 security).
    """
    normalised = normalise_status(status)
    if normalised is None:
        return None
    if normalised.startswith("2."):
        return Reason.DELIVERED
    _, subject, detail = normalised.split(".")
    return STATUS_REASONS.get(f"{subject}.{detail}") or STATUS_REASONS.get(subject)
