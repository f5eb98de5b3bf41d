"""What an SMTP reply says, read from text: its reply code (RFC 5321), its enhanced status
code (RFC 3463), and the SMTP command it answered.

The one reading of each, used by the parser (DSN fields, prose windows, SES JSON), the
classifier (diagnostics) and the report key (`report/bounce_text.py`). Every pattern has
bounded repetition and starts at a literal digit or word, so a search stays linear on
hostile input; what must not precede a code (a digit, a dot) is a look-behind placed after
the code's first digit, since a pattern that opens with one is tried at every position.
"""

from __future__ import annotations

import re

__all__ = ["find_reply_code", "find_status", "leading_reply", "normalise_status", "smtp_command"]

# RFC 3463 class.subject.detail; not part of a dotted number such as an IP address or a version.
# The look-behinds sit after the first digit, so the engine still skips to candidate digits.
_STATUS_RE = re.compile(r"([245])(?<![\d.].)\.(\d{1,3})\.(\d{1,3})(?!\.?\d)")
_REPLY_WITH_STATUS_RE = re.compile(r"([245])(?<![\d.].)(\d\d)[ -]#?([245])\.\d{1,3}\.\d{1,3}(?!\.?\d)")
# A reply code leading a reply: at a line start or after "said:", "<<<", "code", "error" ...
_CODE_RE = re.compile(r"([245]\d\d)(?![\d.])(?=[ ,:\])-]|$)", re.MULTILINE)
_LEAD_CONTEXT_RE = re.compile(
    r"(?:^|said:|says:|<<<|\]:|\):|;|code\W{0,3}|\berror\W{0,3}|\breply\W{0,3})\s{0,16}[\"']?\Z",
    re.MULTILINE,  # matched against lower-cased text: far faster than re.IGNORECASE
)
_REPLY_ANY_RE = re.compile(r"(?:^[ \t>]{0,8}|[:(\[]\s{0,2})([45][0-5]\d)(?=[ -][A-Za-z<#(\[])", re.MULTILINE)
# Sendmail's error line "554 <a@b>... 550 Host unknown": its own code first, then, after the
# address and "...", the remote server's reply, which is the one that names the failure.
_SENDMAIL_WRAPPED_RE = re.compile(r"^\s{0,8}[245]\d\d[ -]<[^<>\s]{1,254}>\.\.\. ([245]\d\d)(?=[ -])")
_ANY_CODE_RE = re.compile(r"[245]\d\d")
# A reply as it opens a diagnostic: "550", "550 5.1.1", "550-5.1.1" (the report key keeps it).
_LEADING_RE = re.compile(r"([2-5]\d\d)(?:([ -])([2-5]\.\d{1,3}\.\d{1,3}))?(?![\w.])")

# Where MTAs name the command a reply answered: Postfix "(in reply to RCPT TO command)",
# Exim "after MAIL FROM" (older Exim "remote mailer after RCPT TO", newer "after pipelined
# RCPT TO", LMTP "LMTP error after RCPT"), qmail "Connected to x but sender was rejected"
# and "most progress was RCPT TO", DragonFly "did not like our RCPT TO", Exchange "SMTP:RCPT
# host ...", X6/V5 "(Error following RCPT command)", IMail (SMTP32) "RCPT TO generated
# following response:", "DATA command generated response:", "Server response to MAIL FROM:"
# Office 365 "unknown recipient or mailbox unavailable -> 550 ..." (the phrases Sisimai's
# Lhost/Exim.pm, X6.pm, IMailServer.pm and Office365.pm read).
# Matched against lower-cased, whitespace-collapsed text.
_COMMAND_RE = re.compile(
    r"in reply to (?:the )?(mail from|rcpt to|end of data|data|helo|ehlo)\b"
    r"|(?:remote (?:mail server|mailer|server)|lmtp error) after (?:pipelined )?"
    r"(mail from|rcpt to|end of data|data|initial connection|helo|ehlo|mail|rcpt)\b"
    r"|connected to \S+ but (sender|my name|greeting)"
    r"|(?:does not|did not) like (?:our )?(recipient|final data|rcpt to|mail from|data)"
    r"|most progress was (rcpt to|mail from|data|helo|ehlo)"
    r"|error following (rcpt|mail|data|helo|ehlo) command"
    r"|(rcpt to|data command) generated (?:following )?response"
    r"|(?:server response to|unexpected response to) (mail from|ehlo|helo)"
    r"|unexpected (connection) response"
    r"|(unknown recipient) or mailbox unavailable ->"
    r"|smtp:(rcpt|mail|data|helo|ehlo)\b"  # a word start, checked in Python: a leading "\b"
)  # would keep the engine from skipping to the branches' first letters (6x slower)
_COMMANDS = (
    ("mail from", "MAIL"),
    ("sender", "MAIL"),
    ("rcpt to", "RCPT"),
    ("recipient", "RCPT"),
    ("unknown recipient", "RCPT"),
    ("end of data", "DATA"),
    ("final data", "DATA"),
    ("data", "DATA"),
    ("helo", "HELO"),
    ("ehlo", "HELO"),
    ("my name", "HELO"),
    ("initial connection", "CONN"),
    ("connection", "CONN"),
    ("greeting", "CONN"),
    ("rcpt", "RCPT"),
    ("mail", "MAIL"),
)


def find_status(text: str) -> str | None:
    """The first plausible RFC 3463 code in `text` ("5.1.1"; "5.01.001" reads as "5.1.1"),
    subject below 8."""
    for m in _STATUS_RE.finditer(text):  # not part of an IP address or a version (look-behind)
        klass, subject, detail = m.groups()
        if int(subject) < 8:
            return f"{klass}.{int(subject)}.{int(detail)}"
    return None


def normalise_status(status: str | None) -> str | None:
    """`"5.1.1"` from `" 5.1.1 "`, `"#5.1.1"`; None when it is not an enhanced status."""
    return find_status(status[:64]) if status else None


def find_reply_code(text: str) -> int | None:
    """The SMTP reply code in a diagnostic: one paired with a status code of its class, else
    one leading a reply (a line start, "said:", "<<<", "error:" ...). A number among words
    ("greylisted for 250 seconds", "exceeded 500 recipients") is no reply code. A refusal
    (4xx, 5xx) beats a success or a greeting in the same text: in a quoted session ("220
    mx ready ... 250 sender ok ... 552 mailbox full") the refusal is the one that failed."""
    if not _ANY_CODE_RE.search(text):  # cheap pre-check: most text has no three-digit code at all
        return None
    wrapped = _SENDMAIL_WRAPPED_RE.match(text)
    if wrapped:
        return int(wrapped.group(1))
    success: int | None = None  # the first 2xx, for when no refusal follows
    for paired in _REPLY_WITH_STATUS_RE.finditer(text):
        if paired.group(1) == paired.group(3):
            if paired.group(1) != "2":
                return int(paired.group(1) + paired.group(2))
            success = success or int(paired.group(1) + paired.group(2))
    low = text.lower()
    for m in _CODE_RE.finditer(low):
        start = m.start()
        head = max(0, start - 24)
        # A sentinel keeps "^" from matching where the slice, not a line, begins; "\Z", not
        # "$", so the code must follow the context itself, not merely the sentinel's line.
        before = ("\n" if head == 0 or low[head - 1] == "\n" else "\x00") + low[head:start]
        if _LEAD_CONTEXT_RE.search(before):
            if m.group(1)[0] != "2":
                return int(m.group(1))
            success = success or int(m.group(1))
    anywhere = _REPLY_ANY_RE.search(text)
    return int(anywhere.group(1)) if anywhere else success


def leading_reply(text: str) -> tuple[str, str | None, int] | None:
    """(reply code, status code or None, both as written, and the offset where they end) when
    `text` opens with a reply ("550", "550 5.1.1 ...", "550-5.1.1 ..."), else None."""
    m = _LEADING_RE.match(text)
    return (m.group(1), m.group(3), m.end()) if m else None


def smtp_command(text: str) -> str | None:
    """The SMTP command a reply answered, when lower-cased, whitespace-collapsed `text` names
    it: "CONN", "HELO", "MAIL", "RCPT" or "DATA"."""
    for match in _COMMAND_RE.finditer(text):
        start = match.start()
        if start and text[start - 1].isalnum() and text.startswith("smtp:", start):
            continue  # "esmtp:data" is no stage
        said = next(group for group in match.groups() if group)
        for prefix, command in _COMMANDS:
            if said.startswith(prefix):
                return command
    return None
