"""Where each classification rule comes from: a documented source, or mail it was learnt from.

A source is a tag: `doc:rfc3463` (an RFC), `doc:sisimai-reason-filtered` (Sisimai's module
for a reason, lib/Sisimai/Reason/*.pm, whose phrase lists and order of tests were ported),
`doc:sisimai-lhost-exim` / `doc:sisimai-rhost-cox` (Sisimai's module for one MTA or provider,
which encodes that MTA's documented messages), `doc:postfix`, `doc:exim` ... (the MTA's own
documentation), or `general:<families>` (written from mail of several MTA families: a note
only, which the benchmark checks rather than believes). A rule without a `doc:` tag counts as
learnt from mail: the leave-one-family-out figures of `benchmarks/accuracy.py` switch it off
when the held-out family is the only corpus family it is right on. `source_of` is what that
benchmark and the docs read.
"""

from __future__ import annotations

from bounced.classify.providers import PROVIDER_SOURCES
from bounced.classify.reason_table import FRAGMENT_SOURCES, REASON_TABLE
from bounced.classify.reasons import phrase_rule_id

__all__ = ["LOGIC_SOURCES", "PHRASE_SOURCES", "is_documented", "source_of"]

# The decisions written as code in `bounced.classify.classify`.
LOGIC_SOURCES: dict[str, str] = {
    # A reason the parser read from a structured report (ARF, SES JSON, auto-reply headers).
    "hint": "doc:parser",
    # RFC 3463 subjects and details (and the registry entries since), via STATUS_REASONS.
    "status": "doc:rfc3463",
    # Refused at MAIL FROM: our sender (Sisimai Reason/Rejected.pm); at the greeting or HELO:
    # the connection (Sisimai Reason.pm `anotherone`: EHLO/HELO -> blocked).
    "stage:mail": "doc:sisimai-reason-rejected",
    "stage:connection": "doc:sisimai-reason",
    # "User unknown" after DATA, under X.2.0, or from a filter: filtered (Reason/Filtered.pm).
    "userunknown-as-filtered": "doc:sisimai-reason-filtered",
    # Host unknown whose text says the lookup failed for now (Reason/HostUnknown.pm `true`).
    "lookup-transient": "doc:sisimai-reason-hostunknown",
    # Sisimai's order of reasons (Reason.pm) and the `true` of UserUnknown.pm, SpamDetected.pm
    # and Rejected.pm: an X.1.1 status beats words of later reasons; spam words before DATA
    # yield to a host block; sender words need the MAIL stage, DATA, or a status without a
    # meaning of its own.
    "status-userunknown": "doc:sisimai-reason-userunknown",
    "spam-before-data": "doc:sisimai-reason-spamdetected",
    "rejected-needs-stage": "doc:sisimai-reason-rejected",
    "status-name-first": "doc:sisimai-reason",
    "reply-code-syntax": "doc:sisimai-reason-syntaxerror",
    "delayed-unnamed-status": "doc:sisimai-reason",
    "sisimai-status": "doc:sisimai-smtp-status",
    # Vague words on a delay notice, or nothing better: expired (Reason.pm `anotherone`).
    "delayed-generic": "doc:sisimai-reason",
    "fallback:expired": "doc:sisimai-reason",
    "fallback:onhold": "doc:sisimai-reason",
    "fallback:undefined": "doc:sisimai-reason",
    # A local program's exit status (Diagnostic-Code: X-Unix; 67): sysexits.h names it, and
    # Sisimai's Reason/MailerError.pm reads the rest as mailererror.
    "sysexits": "doc:sysexits",
    # A local program's words we do not know (X-Unix): Sisimai Reason.pm `anotherone`.
    "diagnostic-type": "doc:sisimai-reason",
}

PHRASE_SOURCES: dict[str, str] = {
    phrase_rule_id(REASON_TABLE[section][0], fragment): tag
    for (section, fragment), tag in FRAGMENT_SOURCES.items()
}


def source_of(rule: str) -> str:
    """The source tag of one rule name ("" when the rule was learnt from mail)."""
    if rule.startswith("phrase:"):
        return PHRASE_SOURCES.get(rule, "")
    if rule.startswith(("provider:", "code:")):
        return PROVIDER_SOURCES.get(rule, "")
    head = rule if rule in LOGIC_SOURCES else rule.partition(":")[0]
    return LOGIC_SOURCES.get(head, "")


def is_documented(rule: str) -> bool:
    """Whether a documented source stands behind the rule (the rest may be switched off)."""
    return source_of(rule).startswith("doc:")
