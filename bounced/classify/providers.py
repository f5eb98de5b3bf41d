"""Bounce patterns of particular mailbox providers, checked before the general table.

Some providers answer with texts that mean something other than their words suggest, or
tag their refusals with documented codes (Orange/La Poste `LPN007_420`, GoDaddy `IB607`,
Cox `AUP#CXBL`). The general reason table would misread those. Entries may be scoped to
the provider's hosts (the Remote-MTA, or its name in the text). Switch off with
`[classify] provider_patterns = false`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bounced.classify.phrase_matcher import compile_alternation
from bounced.model import Reason

__all__ = [
    "PROVIDER_CODES",
    "PROVIDER_PATTERNS",
    "PROVIDER_SOURCES",
    "ProviderCodes",
    "ProviderPattern",
    "provider_reason",
    "provider_rule",
]

R = Reason


@dataclass(frozen=True, slots=True)
class ProviderPattern:
    provider: str
    reason: Reason
    pattern: re.Pattern[str]  # over the normalised (lower-cased, single-spaced) diagnostic
    why: str
    host: re.Pattern[str] | None = None  # must match the Remote-MTA or the text, when set
    source: str = ""  # where the pattern is documented ("doc:..."); "" = learnt from mail

    @property
    def name(self) -> str:
        return f"provider:{self.provider}:{self.reason.value}"


@dataclass(frozen=True, slots=True)
class ProviderCodes:
    """A provider's documented refusal codes: `label` captures the code in group 1."""

    provider: str
    label: re.Pattern[str]
    codes: dict[str, Reason]
    # Texts one of which every match of `label` contains: a cheap test before the search.
    needs: tuple[str, ...] = ()
    source: str = ""  # where the codes are documented ("doc:...")

    @property
    def name(self) -> str:
        return f"code:{self.provider}"


def _p(
    provider: str, reason: Reason, pattern: str, why: str, host: str | None = None, source: str = ""
) -> ProviderPattern:
    # compile_alternation: the same matches, searched faster (see `phrase_matcher`); a pattern
    # anchored at the start is already tried at one position only.
    compiled = re.compile(pattern) if pattern.startswith("^") else compile_alternation([pattern])
    return ProviderPattern(provider, reason, compiled, why, re.compile(host) if host else None, source)


PROVIDER_PATTERNS: tuple[ProviderPattern, ...] = (
    _p(
        "Google Groups",
        R.REJECTED,
        r"groups\.google\.com/support",
        "a group that does not exist or does not let this sender post (localised text, one URL)",
        source="doc:sisimai-lhost-googlegroups",
    ),
    _p(
        "au / KDDI (ezweb.ne.jp, au.com)",
        R.FILTERED,
        r"^(?:\S+ )?550:? : user unknown",
        'the carrier\'s domain filter answers "550 : User unknown" with an empty address',
        source="doc:sisimai-lhost-ezweb",
    ),
    _p(
        "au / KDDI (ezweb.ne.jp, au.com)",
        R.USERUNKNOWN,
        r">:? user unknown",
        'the carrier names the address it does not know: "550 <address>: User unknown" '
        "(Sisimai Rhost/KDDI.pm); only on the carrier's hosts",
        host=r"ezweb\.ne\.jp|\bau\.com",
        source="doc:sisimai-rhost-kddi",
    ),
    # Google's SMTP error reference links its texts to these help pages (4.2.1 / 4.2.2).
    _p(
        "Gmail",
        R.SPEEDING,
        r"p=receivingrate",
        "the recipient receives mail faster than Gmail allows",
        source="doc:google-smtp-error-reference",
    ),
    _p(
        "Gmail",
        R.MAILBOXFULL,
        r"p=overquota",
        "the recipient's mailbox is out of storage space",
        source="doc:google-smtp-error-reference",
    ),
    _p(
        "Microsoft (Outlook.com / Hotmail)",
        R.BLOCKED,
        r"\bsc-00[1-4]\b",
        "SC-001..SC-004: mail from the sending IP refused for its reputation",
        source="doc:outlook-postmaster",  # Outlook.com's postmaster pages list SC-001..SC-004
    ),
    _p(
        "Yahoo / AOL",
        R.REJECTED,
        r"will be permanently deferred|due to unresolvable rfc\.?5321",
        "[TSS09]/[TSS11]: Yahoo's permanent verdict on the sending domain or IP",
        host=r"yahoo|aol\.|verizonmedia",
        source="doc:yahoo-smtp-error-codes",  # Yahoo's sender hub lists the TSS codes
    ),
    _p(
        "Yahoo / AOL",
        R.SUSPEND,
        r"is no longer valid\.",
        "a closed account (Yahoo says 'no longer valid' for deactivated mailboxes)",
        host=r"yahoo|aol\.|verizonmedia",
    ),
    _p(
        "Mimecast",
        R.POLICYVIOLATION,
        r"host network,? not allowed",
        "a geographical restriction policy of the recipient organisation",
        host=r"mimecast",
        source="doc:sisimai-rhost-mimecast",
    ),
    _p(
        "Mimecast",
        R.BADREPUTATION,
        r"local ct ip reputation",
        "ongoing reputation checks of the sending IP",
        host=r"mimecast",
        source="doc:sisimai-rhost-mimecast",
    ),
    _p(
        "Mimecast",
        R.REJECTED,
        r"envelope blocked - user (?:domain )?entry|blocked senders",
        "the recipient's own blocked-senders list",
        host=r"mimecast",
        source="doc:sisimai-rhost-mimecast",
    ),
)

# Matches where any entry's pattern does.
_ANY_PATTERN = compile_alternation([entry.pattern.pattern for entry in PROVIDER_PATTERNS])

PROVIDER_CODES: tuple[ProviderCodes, ...] = (
    ProviderCodes(
        "Orange / La Poste",
        re.compile(r"\b(?:lpn|ofr|ouk)[a-z0-9]{0,6}[-_](\d{3})\b"),
        {
            **dict.fromkeys(("101", "102", "103", "510", "999"), R.BLOCKED),
            "104": R.TOOMANYCONN,
            "305": R.SECURITYERROR,
            "402": R.SECURITYERROR,
            "401": R.AUTHFAILURE,
            "517": R.AUTHFAILURE,
            **dict.fromkeys(("403", "405", "415", "421"), R.REJECTED),
            "416": R.USERUNKNOWN,
            "418": R.USERUNKNOWN,
            "417": R.MAILBOXFULL,
            "420": R.SUSPEND,
            "426": R.SUSPEND,
            "505": R.SYSTEMERROR,
            "506": R.SPAMDETECTED,
            "514": R.MESGTOOBIG,
            "630": R.POLICYVIOLATION,
        },
        needs=("lpn", "ofr", "ouk"),
        source="doc:sisimai-rhost-franceptt",
    ),
    ProviderCodes(
        "GoDaddy",
        re.compile(r"\b(ib\d{3})\b"),
        {
            "ib401": R.SECURITYERROR,
            "ib501": R.NOTCOMPLIANTRFC,
            "ib502": R.NOTCOMPLIANTRFC,
            "ib506": R.REJECTED,
            "ib508": R.AUTHFAILURE,
            "ib108": R.REQUIREPTR,
            "ib212": R.SPAMDETECTED,
            "ib705": R.VIRUSDETECTED,
            "ib605": R.TOOMANYCONN,
            "ib007": R.TOOMANYCONN,
            "ib101": R.SPEEDING,
            **dict.fromkeys(("ib504", "ib510", "ib607"), R.SPEEDING),
            "ib103": R.BADREPUTATION,
            **dict.fromkeys(("ib104", "ib105", "ib106", "ib110", "ib111", "ib112", "ib113"), R.BLOCKED),
        },
        needs=("ib",),
        source="doc:sisimai-rhost-godaddy",
    ),
    ProviderCodes(
        "Facebook",
        re.compile(r"\b((?:rcp|pol|msg|dns|con|int)-[pt]\d)\b"),
        {
            "pol-p7": R.AUTHFAILURE,
            **dict.fromkeys(
                ("pol-p1", "pol-p2", "pol-p3", "pol-p4", "pol-t1", "pol-t2", "pol-t3"), R.BLOCKED
            ),
            "msg-p2": R.CONTENTERROR,
            "rcp-p2": R.FILTERED,
            "rcp-p3": R.FILTERED,
            "msg-p1": R.MESGTOOBIG,
            "int-p2": R.MESGTOOBIG,
            "msg-p3": R.NOTCOMPLIANTRFC,
            **dict.fromkeys(("dns-p1", "dns-p2", "dns-t1"), R.REJECTED),
            "dns-p3": R.REQUIREPTR,
            "dns-t2": R.REQUIREPTR,
            "pol-p6": R.SPAMDETECTED,
            "rcp-t4": R.SUSPEND,
            "rcp-t1": R.SYSTEMERROR,
            **dict.fromkeys(("con-t1", "con-t2", "con-t3", "con-t4", "msg-t1"), R.TOOMANYCONN),
            **dict.fromkeys(("rcp-p1", "int-p1", "int-p3", "int-p4"), R.USERUNKNOWN),
            "pol-p5": R.VIRUSDETECTED,
        },
        needs=("-p", "-t"),
        source="doc:sisimai-lhost-facebook",
    ),
    ProviderCodes(
        "Cox",
        re.compile(r"aup#([a-z]{2,6}\d{0,5})"),
        {
            "cxbl": R.BLOCKED,
            "cdrbl": R.BLOCKED,
            "cxdns": R.REQUIREPTR,
            "cxsndr": R.AUTHFAILURE,
            "cxsmtp": R.REJECTED,
            "cxcnct": R.TOOMANYCONN,
            "cxmxrt": R.TOOMANYCONN,
            "cxthrt": R.SECURITYERROR,
            "cxmj": R.SECURITYERROR,
        },
        needs=("aup#",),
        source="doc:sisimai-rhost-cox",
    ),
)
# Microsoft 365 / Exchange Online's own enhanced status details (3-digit, outside RFC 3463's
# registry): (class.subject, first detail, last detail, reason, text that must also appear).
_MICROSOFT_CODES: tuple[tuple[str, int, int, Reason, str | None], ...] = (
    ("5.7", 501, 503, R.REJECTED, None),  # account banned for spam abuse
    ("5.7", 504, 505, R.SUSPEND, None),  # recipient address not valid / banned
    ("5.7", 506, 507, R.BLOCKED, None),  # bad HELO; IP blocked by the recipient's org
    ("5.7", 508, 508, R.SPEEDING, None),  # exceeded permitted limits
    ("5.7", 509, 509, R.AUTHFAILURE, None),  # does not pass DMARC verification
    ("5.7", 510, 511, R.BLOCKED, None),  # no mail over IPv6; banned sender
    ("5.7", 512, 512, R.REJECTED, None),  # From must be RFC 5322 compliant
    ("5.7", 513, 513, R.BLOCKED, None),  # customer block list
    ("5.7", 515, 515, R.AUTHFAILURE, None),  # required authentication level not met
    ("5.7", 606, 649, R.BLOCKED, None),  # banned sending IP
    ("5.7", 700, 749, R.SPEEDING, None),  # tenant exceeded threshold
    ("5.7", 750, 750, R.REJECTED, None),  # unregistered sending domains
    ("5.7", 900, 999, R.POLICYVIOLATION, None),  # refused by a mail flow rule
    ("5.7", 124, 124, R.REJECTED, None),  # sender not in allowed-senders list
    ("5.7", 133, 136, R.REJECTED, None),  # sender not authenticated for group/mailbox
    ("5.7", 321, 325, R.FAILEDSTARTTLS, None),  # STARTTLS / certificate / DANE failures
    ("4.7", 321, 325, R.FAILEDSTARTTLS, None),
    ("4.7", 650, 650, R.BADREPUTATION, None),  # rate limited due to IP reputation
    ("4.7", 652, 652, R.TOOMANYCONN, None),  # maximum number of connections
    ("4.7", 500, 699, R.BLOCKED, "access denied"),  # suspicious activity, restricted
    ("5.4", 300, 300, R.EXPIRED, None),
    ("5.4", 316, 316, R.EXPIRED, "expired"),
    ("5.4", 312, 312, R.NETWORKERROR, None),  # DNS query failed
    ("4.4", 312, 312, R.NETWORKERROR, None),
    ("5.4", 317, 317, R.FAILEDSTARTTLS, None),
    ("4.4", 317, 317, R.FAILEDSTARTTLS, None),
    ("5.4", 318, 318, R.SYSTEMERROR, None),  # suspicious remote server error
    ("5.1", 90, 90, R.SPEEDING, None),  # daily recipient limit
    ("5.2", 121, 122, R.SPEEDING, None),  # recipient's per-hour receive limit
    ("5.6", 11, 11, R.CONTENTERROR, None),  # bare line feeds
    # Directory-based edge blocking: the recipient does not exist (Sisimai Rhost/ExchangeOnline.pm).
    ("5.4", 1, 1, R.USERUNKNOWN, "recipient address rejected: access denied"),
    ("5.1", 10, 10, R.USERUNKNOWN, "recipient not found"),
)
# Starts at the digit (a look-behind first would be tried at every position).
_STATUS_RE = re.compile(r"([45](?<![\d.].)\.\d)\.(\d{1,3})\b(?!\.\d)")


_MICROSOFT_BY_HEAD: dict[str, list[tuple[int, int, Reason, str | None]]] = {}
for _head, _first, _last, _reason, _needs in _MICROSOFT_CODES:
    _MICROSOFT_BY_HEAD.setdefault(_head, []).append((_first, _last, _reason, _needs))


def _microsoft_reason(normalised: str, status: str | None) -> Reason | None:
    candidates = [status] if status else []
    candidates += [f"{m.group(1)}.{m.group(2)}" for m in _STATUS_RE.finditer(normalised[:512])]
    for code in candidates:
        head, _, detail = code.rpartition(".")
        if not detail.isdigit() or head not in _MICROSOFT_BY_HEAD:
            continue
        number = int(detail)
        for first, last, reason, needs in _MICROSOFT_BY_HEAD[head]:
            if first <= number <= last and (needs is None or needs in normalised):
                return reason
    return None


# Spectrum (Charter): AUP#[IO]NNNN, documented in ranges.
_SPECTRUM_LABEL = re.compile(r"aup#[io]?-?(\d{4})\b")
_SPECTRUM_RANGES: tuple[tuple[int, int, Reason], ...] = (
    (1000, 1000, R.BLOCKED),
    (1010, 1080, R.REJECTED),  # the sending account is blocked or limited
    (1090, 1090, R.SYSTEMERROR),
    (1100, 1150, R.REQUIREPTR),  # no full-circle DNS for the sending IP
    (1160, 1190, R.POLICYVIOLATION),
    (1200, 1250, R.BLOCKED),  # Cloudmark / Spamhaus listings
    (1260, 1260, R.NETWORKERROR),  # no IPv6
    (1300, 1340, R.TOOMANYCONN),
    (1350, 1490, R.SPEEDING),
    (1500, 1520, R.REJECTED),  # sending as another address
    (1530, 1530, R.MESGTOOBIG),
    (1540, 1550, R.SPEEDING),
    (1560, 1560, R.POLICYVIOLATION),  # too many invalid recipients
    (1580, 1580, R.SPEEDING),
)


def _spectrum_reason(normalised: str) -> Reason | None:
    if (match := _SPECTRUM_LABEL.search(normalised)) is None:
        return None
    number = int(match.group(1))
    return next((reason for first, last, reason in _SPECTRUM_RANGES if first <= number <= last), None)


# Cox's numbered block-list codes: IPBL<bits> = listed on DNSBLs, URLBL<bits> = a URL is.
_COX_LISTS = re.compile(r"aup#(ipbl|urlbl)\d{3,5}")


# Rules that are not entries of the two tables above, and where they are documented.
_MICROSOFT = "code:Microsoft 365"
_SPECTRUM = "code:Spectrum"
_COX_LIST_CODES = "code:Cox block lists"
PROVIDER_SOURCES: dict[str, str] = {
    **{entry.name: entry.source for entry in PROVIDER_PATTERNS},
    **{table.name: table.source for table in PROVIDER_CODES},
    _MICROSOFT: "doc:sisimai-rhost-exchangeonline",
    _SPECTRUM: "doc:sisimai-rhost-spectrum",
    _COX_LIST_CODES: "doc:sisimai-rhost-cox",
}


def provider_reason(
    normalised: str, remote_mta: str | None = None, status: str | None = None
) -> Reason | None:
    """The reason a provider's own pattern or code gives, or None."""
    found = provider_rule(normalised, remote_mta, status)
    return None if found is None else found[0]


def provider_rule(
    normalised: str,
    remote_mta: str | None = None,
    status: str | None = None,
    disabled: frozenset[str] = frozenset(),
) -> tuple[Reason, str] | None:
    """(reason, rule name) of the provider pattern or code that applies, or None; rules
    named in `disabled` are skipped (the accuracy benchmark's held-out runs)."""
    host = (remote_mta or "").lower()
    if (microsoft := _microsoft_reason(normalised, status)) is not None and _MICROSOFT not in disabled:
        return microsoft, _MICROSOFT
    for table in PROVIDER_CODES:
        if table.needs and not any(needed in normalised for needed in table.needs):
            continue
        if disabled and table.name in disabled:
            continue
        for match in table.label.finditer(normalised):
            if (reason := table.codes.get(match.group(1))) is not None:
                return reason, table.name
    if "aup#" in normalised:  # both patterns below start with it
        if _SPECTRUM not in disabled and (spectrum := _spectrum_reason(normalised)) is not None:
            return spectrum, _SPECTRUM
        if _COX_LIST_CODES not in disabled and (listed := _COX_LISTS.search(normalised)) is not None:
            return (R.BLOCKED if listed.group(1) == "ipbl" else R.SPAMDETECTED), _COX_LIST_CODES
    if not _ANY_PATTERN.search(normalised):
        return None  # the usual case: one search instead of one per entry
    for entry in PROVIDER_PATTERNS:
        # The pattern first: it fails far more often than the host test, and neither has effects.
        if (disabled and entry.name in disabled) or not entry.pattern.search(normalised):
            continue
        if entry.host is None or entry.host.search(host) or entry.host.search(normalised):
            return entry.reason, entry.name
    return None
