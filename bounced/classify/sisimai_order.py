"""Sisimai's order of reasons, where it overrules the first phrase of the reason table.

Sisimai (lib/Sisimai/Reason.pm) tries the reasons in a fixed order, and each module's `true`
(lib/Sisimai/Reason/*.pm) reads the status code's name and the SMTP stage before its own
phrases. Three of those readings are general and documented, so they are ported here, each a
named rule (see `bounced.classify.provenance`):

- `status-userunknown` (UserUnknown.pm): under a status Sisimai names `userunknown` (5.1.0,
  5.1.1, 5.1.3) the mailbox is unknown, unless the words belong to a reason tried before it
  or listed in its `$prematches` (a virus scanner's signature line is no such word); not
  after DATA, which `userunknown-as-filtered` reads.
- `spam-before-data` (SpamDetected.pm): before DATA no message was sent, so spam words do
  not decide; words of a host block or a connection limit (tried next) do.
- `status-name-first` (Reason.pm `anotherone`): words of a reason outside Reason.pm's first
  pass (policy, content, system, network ...) do not beat a status Sisimai names, unless the
  name is one it looks past (its `retry` list: undefined, onhold, systemerror, securityerror,
  networkerror, hostunknown, userunknown; and expired).
- `sisimai-status`: for six codes Sisimai's name depends on the class (4.7.1 blocked, 5.7.1
  securityerror ...); there its name is the status reading.
- `reply-code-syntax` (SyntaxError.pm `true`, reached last in Reason.pm `anotherone`): with
  no words and no status that say more, a reply code 500-507 or 400-407 (RFC 5321's syntax
  and command-sequence replies: "503 Bad sequence of commands", "504 Command parameter not
  implemented") is a syntax error.
- `delayed-unnamed-status` (Reason.pm `anotherone`): on a delay notice, a status Sisimai
  gives no name (4.4.0, 4.0.0 ...; not X.6 / X.7, which it reads first) says less than the
  Action: the delivery is `expired` (still being retried).
- `rejected-needs-stage` (Rejected.pm): sender words decide at MAIL FROM, after DATA, or
  under no status or one named rejected/securityerror/systemerror; under a status with its
  own name, words of the next sender-side reasons in Sisimai's order (spam, connection
  limits, blocks), else that name when it is one of them. Never an address reason: a refusal
  that names our sender must not suppress the recipient.

Status names are Sisimai's (SMTP/Status.pm `StandardCode`), not the RFC 3463 subjects of
`status.STATUS_REASONS`: Sisimai names only these codes.
"""

from __future__ import annotations

from bounced.classify.rules import RuleSet
from bounced.model import Reason

__all__ = [
    "SISIMAI_STATUS_NAMES",
    "class_specific_name",
    "delayed_unnamed_status",
    "sisimai_order",
    "syntax_error_reply",
]

# Sisimai's SMTP/Status.pm `StandardCode`: reason name, then the codes it names so.
_NAMES = """
blocked 4.7.1 4.7.2 4.7.25 5.7.25
contenterror 4.6.0 4.6.2 4.6.5 5.6.0 5.6.1 5.6.2 5.6.3 5.6.5 5.6.6 5.6.7 5.6.8 5.6.9
exceedlimit 4.2.3 5.2.3
expired 4.4.1 4.4.7
filtered 4.2.4 5.1.4 5.2.0 5.2.1 5.2.4
hasmoved 4.1.6 5.1.6 5.7.17 5.7.18
hostunknown 5.1.2 5.4.4
mailboxfull 4.2.2 5.2.2
mesgtoobig 4.7.16 5.3.4 5.7.16
networkerror 4.4.2 4.4.4 4.4.6 5.4.0
notaccept 4.3.2 5.1.10 5.3.2 5.7.27
rejected 4.1.7 4.1.8 5.1.7 5.1.8
securityerror 4.7.5 4.7.6 4.7.7 4.7.12 4.7.15 4.7.24 5.5.6 5.7.0 5.7.1 5.7.2 5.7.3 5.7.4 5.7.5 5.7.6
securityerror 5.7.7 5.7.8 5.7.9 5.7.10 5.7.11 5.7.14 5.7.15 5.7.19 5.7.20 5.7.21 5.7.22 5.7.23 5.7.24 5.7.26
suspend 4.2.1 5.7.13
systemerror 4.1.9 4.3.3 4.3.5 4.5.3 4.5.5 5.1.9 5.3.0 5.3.3 5.3.5 5.4.3 5.5.4 5.5.5
systemfull 4.3.1 4.4.5 5.3.1
toomanyconn 5.5.3
userunknown 5.1.0 5.1.1 5.1.3
"""
SISIMAI_STATUS_NAMES: dict[str, Reason] = {
    code: Reason(line.split()[0]) for line in _NAMES.strip().splitlines() for code in line.split()[1:]
}
# Reason.pm's first pass (`$ClassOrder->[0]`) tries these before UserUnknown.
_BEFORE_IN_ORDER = frozenset(
    {
        Reason.MAILBOXFULL,
        Reason.MESGTOOBIG,
        Reason.EXCEEDLIMIT,
        Reason.SUSPEND,
        Reason.HASMOVED,
        Reason.NORELAYING,
    }
)
# Reasons tried before UserUnknown, or in its `$prematches`; the newer Sisimai's splits of
# Blocked / SecurityError (requireptr, badreputation, authfailure) go with their parents, and
# a mailer's own error (an X-UNIX diagnostic, which Reason.pm never reads this way) stays.
_BEFORE_USERUNKNOWN = _BEFORE_IN_ORDER | {
    Reason.BLOCKED,
    Reason.REQUIREPTR,
    Reason.BADREPUTATION,
    Reason.AUTHFAILURE,
    Reason.REJECTED,
    Reason.NOTACCEPT,
    Reason.GREYLISTED,
    Reason.MAILERERROR,
    Reason.USERUNKNOWN,
}
_BEFORE_DATA = frozenset({"CONN", "HELO", "MAIL", "RCPT"})
# Tried right after SpamDetected: TooManyConn, Blocked (and the newer splits of both).
_AFTER_SPAM = frozenset(
    {Reason.TOOMANYCONN, Reason.SPEEDING, Reason.BLOCKED, Reason.REQUIREPTR, Reason.BADREPUTATION}
)
_NOT_AFTER_SPAM = frozenset(Reason) - _AFTER_SPAM
# Tried after Rejected and about the sender too: SpamDetected, then those (HostUnknown, tried
# between them, is left out: a refusal that names our sender never condemns the address).
_NOT_AFTER_REJECTED = frozenset(Reason) - _AFTER_SPAM - {Reason.SPAMDETECTED}
_REJECTED_STATUS = frozenset({Reason.REJECTED, Reason.SECURITYERROR, Reason.SYSTEMERROR})
# Reason.pm's first pass (`$ClassOrder->[0]`), whose modules read their words before the status
# name counts, with the newer Sisimai's splits of its reasons and greylisting (ours).
_FIRST_PASS = (
    _BEFORE_IN_ORDER
    | _AFTER_SPAM
    | {
        Reason.USERUNKNOWN,
        Reason.FILTERED,
        Reason.REJECTED,
        Reason.HOSTUNKNOWN,
        Reason.SPAMDETECTED,
        Reason.AUTHFAILURE,
        Reason.FAILEDSTARTTLS,
        Reason.NOTCOMPLIANTRFC,
        Reason.GREYLISTED,
    }
)
# Names Reason.pm `anotherone` looks past to the words: its `retry` list, and expired.
_RETRY = frozenset(
    {
        Reason.UNDEFINED,
        Reason.ONHOLD,
        Reason.SYSTEMERROR,
        Reason.SECURITYERROR,
        Reason.NETWORKERROR,
        Reason.HOSTUNKNOWN,
        Reason.USERUNKNOWN,
        Reason.EXPIRED,
    }
)
# Codes whose Sisimai name depends on the class, where the RFC 3463 reading of
# `status.STATUS_REASONS` (the class ignored) says otherwise: temporary 4.7.1 is a block.
_CLASS_SPECIFIC = frozenset({"4.2.1", "4.4.4", "4.5.3", "4.7.1", "4.7.2", "5.5.4"})


def class_specific_name(status: str | None, rules: RuleSet) -> Reason | None:
    """Sisimai's name for the few codes whose meaning depends on their class."""
    if status in _CLASS_SPECIFIC and "sisimai-status" not in rules.disabled:
        return SISIMAI_STATUS_NAMES[status]
    return None


def sisimai_order(
    text: str, status: str | None, first: Reason, command: str | None, rules: RuleSet
) -> tuple[Reason, str] | None:
    """(reason, rules) where Sisimai's order overrules `first`, the table's first phrase."""
    off = rules.disabled
    named = SISIMAI_STATUS_NAMES.get(status or "")
    if (
        named is not None
        and first not in _FIRST_PASS
        and named not in _RETRY
        and "status-name-first" not in off
    ):
        # Reason.pm: when no first-pass reason holds, a status with a name of its own decides
        # (`anotherone`); the words of the later reasons are read only for the vague names.
        return named, f"status-name-first + status:{status}"
    if (
        named is Reason.USERUNKNOWN
        and command != "DATA"
        and first not in _BEFORE_USERUNKNOWN
        and "status-userunknown" not in off
    ):
        return Reason.USERUNKNOWN, f"status-userunknown + status:{status}"
    if first is Reason.SPAMDETECTED and command in _BEFORE_DATA and "spam-before-data" not in off:
        found = rules.phrases.first(text, _NOT_AFTER_SPAM)
        if found is not None:
            return found[0].reason, f"spam-before-data + {found[1]}"
    if (
        first is Reason.REJECTED
        and command not in ("MAIL", "DATA")
        and named is not None
        and named not in _REJECTED_STATUS
        and "rejected-needs-stage" not in off
    ):
        found = rules.phrases.first(text, _NOT_AFTER_REJECTED)
        if found is not None:
            return found[0].reason, f"rejected-needs-stage + {found[1]}"
        if named in _AFTER_SPAM:
            return named, f"rejected-needs-stage + status:{status}"
    return None


def syntax_error_reply(code: int | None, rules: RuleSet) -> tuple[Reason, str] | None:
    """`syntaxerror` for a 40x/50x reply code (x <= 7), Sisimai's last reading of a reply."""
    if (
        code is not None
        and code // 10 in (40, 50)
        and code % 10 <= 7
        and "reply-code-syntax" not in rules.disabled
    ):
        return Reason.SYNTAXERROR, f"reply-code-syntax + reply:{code}"
    return None


def delayed_unnamed_status(delayed: bool, status: str | None, rules: RuleSet) -> tuple[Reason, str] | None:
    """`expired` for a delay notice whose status Sisimai does not name (nor reads as X.6/X.7)."""
    if (
        delayed
        and status is not None
        and status not in SISIMAI_STATUS_NAMES
        and status[1:3] not in (".6", ".7")
        and "delayed-unnamed-status" not in rules.disabled
    ):
        return Reason.EXPIRED, f"delayed-unnamed-status + status:{status}"
    return None
