"""Turn each parsed failure into a Classification: kind (hard/soft/blocked/...) and reason.

Evidence precedence for the failure class (see docs/classify.md):

1. Action delivered/relayed/expanded -> delivered; ARF -> complaint; auto-reply -> autoreply.
2. Action delayed -> soft: the remote side is still retrying.
3. Codes the remote server itself sent (the SMTP reply code, and an enhanced status code
   inside the diagnostic text) beat the Status field the reporting MTA generated. Among the
   remote's codes, any class-4 code makes the failure soft: a server answering "550 4.2.0"
   contradicts itself, and soft is the side that loses nothing (no suppression; the resend
   rules give up in time). Words around a code ("permanent error" around "450 Greylisted")
   never change its class.
4. No remote code: the DSN Status class. No code at all: the reason decides.

Class 5 then splits by reason: a refusal about the sender or the message (reputation,
RBL, SPF/DKIM/DMARC, spam, policy, size) is `blocked` and never suppresses; a small set of
reasons that are temporary by nature (mailbox full, expired, greylisting, rate limits,
network, system full) stays `soft`; everything else is `hard` (the seed rule: 5xx is a
permanent failure of the address).
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from functools import lru_cache

from bounced.classify.diagnostic import MAX_EXAMINED, normalise_text
from bounced.classify.phrase_matcher import compile_alternation
from bounced.classify.providers import provider_rule
from bounced.classify.reason_table import REASON_TABLE
from bounced.classify.reasons import retry_after_seconds
from bounced.classify.rules import DEFAULT_RULES, RuleSet
from bounced.classify.sisimai_order import (
    class_specific_name,
    delayed_unnamed_status,
    sisimai_order,
    syntax_error_reply,
)
from bounced.classify.status import reason_for_status, reply_class, status_class
from bounced.classify.sysexits import EX_TEMPFAIL, X_UNIX, exit_reason, exit_status
from bounced.config.classify import ClassifyConfig, ClassifyOverride
from bounced.model import (
    Action,
    BounceKind,
    Classification,
    ClassifiedFailure,
    Failure,
    MessageType,
    ParsedMessage,
    Reason,
)
from bounced.smtp_reply import find_reply_code, find_status, normalise_status, smtp_command

__all__ = [
    "ADDRESS_REASONS",
    "SENDER_REASONS",
    "SOFT_REASONS",
    "classify_failure",
    "classify_message",
    "decide_reason",
    "decide_reason_rule",
]

# 5xx about the sender or the message, not the address: never suppress.
SENDER_REASONS: frozenset[Reason] = frozenset(
    {
        Reason.BLOCKED,
        Reason.BADREPUTATION,
        Reason.REQUIREPTR,
        Reason.AUTHFAILURE,
        Reason.SPAMDETECTED,
        Reason.VIRUSDETECTED,
        Reason.CONTENTERROR,
        Reason.POLICYVIOLATION,
        Reason.REJECTED,
        Reason.SECURITYERROR,
        Reason.NORELAYING,
        Reason.FAILEDSTARTTLS,
        Reason.NOTCOMPLIANTRFC,
        Reason.SYNTAXERROR,
        Reason.MESGTOOBIG,
        Reason.EXCEEDLIMIT,
    }
)
# Temporary by nature even when the server says 5xx (mailboxfull: an overridable default).
SOFT_REASONS: frozenset[Reason] = frozenset(
    {
        Reason.MAILBOXFULL,
        Reason.EXPIRED,
        Reason.GREYLISTED,
        Reason.SPEEDING,
        Reason.TOOMANYCONN,
        Reason.SYSTEMFULL,
        Reason.NETWORKERROR,
    }
)
# Reasons that condemn the address itself; hard even when no code was given.
ADDRESS_REASONS: frozenset[Reason] = frozenset(
    {
        Reason.USERUNKNOWN,
        Reason.HOSTUNKNOWN,
        Reason.HASMOVED,
        Reason.NOTACCEPT,
        Reason.SUSPEND,
        Reason.FILTERED,
    }
)
# A status code whose meaning is specific enough to stand against the text's weaker hints.
_STRONG_STATUS: frozenset[Reason] = frozenset(
    {
        Reason.MAILBOXFULL,
        Reason.MESGTOOBIG,
        Reason.EXCEEDLIMIT,
        Reason.HASMOVED,
        Reason.REJECTED,
        Reason.SUSPEND,
        Reason.AUTHFAILURE,
        Reason.REQUIREPTR,
    }
)
# Every networkerror section of the reason table as one pattern.
_NETWORK_TEXT = compile_alternation(
    [
        fragment
        for reason, _, fragments in REASON_TABLE
        if reason is Reason.NETWORKERROR
        for fragment in fragments
    ]
)
# Reasons that blame the address (or nothing in particular): the SMTP stage may overrule them.
# (Not securityerror: it is already a sender-side reason, so kept as Sisimai's Reason/Rejected.pm
# keeps it unless the words say "rejected".)
_ADDRESS_OR_VAGUE = frozenset({*ADDRESS_REASONS, Reason.ONHOLD, Reason.UNDEFINED, Reason.SYSTEMERROR})
# A failed lookup that says it is temporary: the name may well exist.
_TRANSIENT_LOOKUP = re.compile(r"try again|temporar|servfail|timed? ?out")
# Parser hints that only mean "I could not tell": look again at text and codes.
_VAGUE_HINTS = frozenset({"undefined", "onhold", ""})
_SUCCESS = frozenset({Action.DELIVERED, Action.RELAYED, Action.EXPANDED})
_OVERRIDE_EXAMINED = 4 * MAX_EXAMINED


def decide_reason(failure: Failure, provider_patterns: bool = True) -> Reason:
    """The reason for one failure from the parser's hint, the diagnostic text and codes."""
    return decide_reason_rule(failure, provider_patterns)[0]


def decide_reason_rule(
    failure: Failure, provider_patterns: bool = True, rules: RuleSet = DEFAULT_RULES
) -> tuple[Reason, str]:
    """(reason, the names of the rules that decided it, joined by " + ")."""
    text = normalise_text(failure.diagnostic)
    return _decide(failure, text, find_status(text) if text else None, provider_patterns, rules)


def _decide(
    failure: Failure, text: str, in_text: str | None, provider_patterns: bool, rules: RuleSet
) -> tuple[Reason, str]:
    """`decide_reason_rule` over the normalised diagnostic and the status code found in it."""
    hint = (failure.reason_hint or "").strip().lower()
    if hint not in _VAGUE_HINTS and hint in Reason._value2member_map_:
        return Reason(hint), f"hint:{hint}"
    if (exited := exit_reason(failure)) is not None:
        return exited  # "X-Unix; 67": a local program's exit status (sysexits.h)
    status = _specific_status(failure, in_text)
    if (
        provider_patterns
        and text
        and (known := provider_rule(text, failure.remote_mta, status, rules.disabled)) is not None
    ):
        return known
    command = _command_of(failure, text)  # once: three rules below read it
    reason, rule = _reason_from_text_and_codes(failure, text, status, command, rules)
    if reason in _ADDRESS_OR_VAGUE:
        # The SMTP stage a refusal came at says whose fault it is: before RCPT TO there is no
        # recipient to refuse, so it is our sender or our connection (as Sisimai reads it).
        if command == "MAIL":
            return Reason.REJECTED, "stage:mail"
        if command in ("CONN", "HELO"):
            return Reason.BLOCKED, "stage:connection"
    return reason, rule


def _reason_from_text_and_codes(
    failure: Failure, text: str, status: str | None, command: str | None, rules: RuleSet
) -> tuple[Reason, str]:
    status_reason = reason_for_status(status)
    if status_reason is Reason.DELIVERED and failure.action not in _SUCCESS:
        status_reason = None
    by_status = f"status:{status}"
    if (named := class_specific_name(status, rules)) is not None:
        status_reason, by_status = named, f"sisimai-status:{status}"
    found = rules.phrases.first(text)
    if found is not None:
        rule, name = found
        first = rule.reason
        if status_reason in _STRONG_STATUS and first is not Reason.GREYLISTED:
            return status_reason, by_status  # 5.2.2, 5.1.8, 5.7.25 ... say exactly what happened
        if (sisimai := sisimai_order(text, status, first, command, rules)) is not None:
            return sisimai
        if first is Reason.USERUNKNOWN and not rule.fixed and _filtered_not_unknown(command, text, status):
            return Reason.FILTERED, f"userunknown-as-filtered + {name}"
        if (
            first is Reason.HOSTUNKNOWN
            and (_TRANSIENT_LOOKUP.search(text) or status_class(status) == 4)
            and _NETWORK_TEXT.search(text)
        ):
            return Reason.NETWORKERROR, f"lookup-transient + {name}"  # "host not found, try again"
        if rule.generic and failure.action is Action.DELAYED:
            return Reason.EXPIRED, "delayed-generic"  # still queued: whatever the vague words
        if not rule.generic or status_reason is None:
            return first, name
    if status_reason is not None:
        if (delayed := delayed_unnamed_status(failure.action is Action.DELAYED, status, rules)) is not None:
            return delayed
        return status_reason, by_status  # a code's meaning beats a generic phrase
    # A local program's answer with no words we know is a mailer error (Sisimai Reason.pm
    # `anotherone`: X-UNIX; not X-Postfix, which Sisimai's Lhost/Postfix.pm reads as SMTP).
    if failure.diagnostic_type == X_UNIX:
        return Reason.MAILERERROR, f"diagnostic-type:{failure.diagnostic_type}"
    if (syntax := syntax_error_reply(failure.reply_code or find_reply_code(text), rules)) is not None:
        return syntax
    if failure.action is Action.DELAYED:
        return Reason.EXPIRED, "fallback:expired"
    # Words, not just the address again ("* a@b"), are what an unexplained `onhold` needs.
    words = text.replace(failure.recipient.lower(), " ") if failure.recipient else text
    if any(c.isalpha() for c in words):
        return Reason.ONHOLD, "fallback:onhold"
    return Reason.UNDEFINED, "fallback:undefined"


# The statuses Sisimai's SMTP/Status.pm names `userunknown` (UserUnknown.pm `true`); others
# of the X.1.x subject name the host (5.1.2), a move (5.1.6) or nothing Sisimai knows (4.1.1).
_UNKNOWN_STATUSES = frozenset({"5.1.0", "5.1.1", "5.1.3"})


def _filtered_not_unknown(command: str | None, text: str, status: str | None) -> bool:
    """Whether "user unknown" words are a filter's answer rather than an unknown mailbox.

    Ported from Sisimai's Reason/UserUnknown.pm and Reason/Filtered.pm: the words mean an
    unknown mailbox under 5.1.0, 5.1.1 or 5.1.3 or as the answer to RCPT TO; after DATA,
    under X.2.0, or under any other status (a bare X.0.0 and no status at all included) with
    no sign of RCPT TO, they are the answer of a filter (Sisimai: `filtered`).
    """
    if command == "DATA" or (status is not None and status.endswith(".2.0")):
        return True
    status = find_status(text) or status  # the server's own code names the failure (as in Sisimai's Data.pm)
    return command is None and status not in _UNKNOWN_STATUSES


def _command_of(failure: Failure, text: str) -> str | None:
    """The parser's reading of the SMTP stage first, else what the diagnostic says."""
    given = (failure.smtp_command or "").strip().upper()
    if given in ("CONN", "HELO", "EHLO", "MAIL", "RCPT", "DATA"):
        return "HELO" if given == "EHLO" else given
    return smtp_command(text)


def _specific_status(failure: Failure, in_text: str | None) -> str | None:
    """The enhanced status to read a meaning from: the in-text one when it says more."""
    dsn = normalise_status(failure.status)
    if in_text and (dsn is None or dsn.endswith(".0.0") or reason_for_status(dsn) is None):
        return in_text
    return dsn or in_text


def _failure_class(failure: Failure, text: str, in_text: str | None) -> tuple[int | None, str]:
    """(2/4/5 or None, which evidence decided) following the precedence in the docstring."""
    if exit_status(failure) == EX_TEMPFAIL:
        return 4, "exit-status"  # the program said "try again later", whatever Status says
    remote: list[tuple[int, str]] = []
    reply = failure.reply_code if reply_class(failure.reply_code) else None
    if reply is None and text:
        reply = find_reply_code(text)
    if (cls := reply_class(reply)) in (4, 5) or (cls == 2 and failure.action in _SUCCESS):
        remote.append((cls, "reply"))
    if (cls := status_class(in_text)) in (4, 5):
        remote.append((cls, "text-status"))
    for wanted in (4, 5, 2):
        for cls, source in remote:
            if cls == wanted:
                return cls, source
    if (cls := status_class(failure.status)) is not None:
        return cls, "status"
    return None, "none"


def _kind_for(cls: int | None, reason: Reason, action: Action) -> tuple[BounceKind, str]:
    if action is Action.DELAYED:
        return BounceKind.SOFT, "default:delayed"
    if cls == 4:
        return BounceKind.SOFT, "default:4xx"
    if cls == 5:
        if reason in SENDER_REASONS:
            return BounceKind.BLOCKED, "default:5xx-sender"
        if reason in SOFT_REASONS:
            return BounceKind.SOFT, "default:5xx-soft-reason"
        return BounceKind.HARD, "default:5xx"
    if cls == 2:
        # A success code on a failed recipient: nothing to act on but nothing proven either.
        return BounceKind.SOFT, "default:2xx-failed"
    if reason in ADDRESS_REASONS:
        return BounceKind.HARD, "default:reason-address"
    if reason in SENDER_REASONS:
        return BounceKind.BLOCKED, "default:reason-sender"
    return BounceKind.SOFT, "default:reason"


def classify_failure(
    failure: Failure, message_type: MessageType, config: ClassifyConfig, rules: RuleSet = DEFAULT_RULES
) -> Classification:
    """Classify one recipient failure. Pure; never raises on content. `rules`: all of them
    unless some are switched off (the accuracy benchmark's held-out runs)."""
    hint = (failure.reason_hint or "").strip().lower()
    text = normalise_text(failure.diagnostic)
    reason_rule: str | None = None
    if failure.action in _SUCCESS:
        kind, reason, rule = BounceKind.DELIVERED, Reason.DELIVERED, "default:delivered"
    elif message_type is MessageType.ARF or hint == Reason.FEEDBACK:
        kind, reason, rule = BounceKind.COMPLAINT, Reason.FEEDBACK, "default:arf"
    elif message_type is MessageType.AUTOREPLY or hint == Reason.VACATION:
        kind, reason, rule = BounceKind.AUTOREPLY, Reason.VACATION, "default:autoreply"
    elif message_type is MessageType.NONE:
        kind, reason, rule = BounceKind.NONE, Reason.UNDEFINED, "default:none"
    else:
        in_text = find_status(text) if text else None  # once for both steps
        reason, reason_rule = _decide(failure, text, in_text, config.provider_patterns, rules)
        cls, _source = _failure_class(failure, text, in_text)
        kind, rule = _kind_for(cls, reason, failure.action)
    for index, override in enumerate(config.overrides):
        if _override_matches(override, failure, reason, text):
            kind = BounceKind(override.kind) if override.kind else kind
            reason = Reason(override.set_reason) if override.set_reason else reason
            rule = f"override[{index}]" + (f" {override.name}" if override.name else "")
            break
    retry_after = None
    if kind is BounceKind.SOFT:
        default = config.greylist_default_delay if reason is Reason.GREYLISTED else None
        retry_after = retry_after_seconds(text, default)
    return Classification(
        kind=kind, reason=reason, retry_after=retry_after, rule=rule, reason_rule=reason_rule
    )


def classify_message(
    parsed: ParsedMessage, config: ClassifyConfig, rules: RuleSet = DEFAULT_RULES
) -> list[ClassifiedFailure]:
    """One ClassifiedFailure per `parsed.failures` entry, in order ([] for none)."""
    return [
        ClassifiedFailure(failure=f, classification=classify_failure(f, parsed.message_type, config, rules))
        for f in parsed.failures
    ]


def _override_matches(override: ClassifyOverride, failure: Failure, reason: Reason, text: str) -> bool:
    if override.status is not None:
        status = normalise_status(failure.status) or (find_status(text) if text else None)
        if status is None or not fnmatchcase(status, override.status.strip()):
            return False
    if override.reply_code is not None:
        code = failure.reply_code if failure.reply_code is not None else find_reply_code(text)
        if code is None or not fnmatchcase(str(code), override.reply_code.strip()):
            return False
    if override.reason is not None and override.reason != reason.value:
        return False
    # Operators write patterns against the diagnostic as sent, not our normalised copy.
    return override.diagnostic is None or bool(
        _compiled(override.diagnostic).search(failure.diagnostic[:_OVERRIDE_EXAMINED])
    )


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    # Validated at config load; the cache keeps classify pure and cheap per failure.
    return re.compile(pattern, re.IGNORECASE)
