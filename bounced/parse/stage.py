"""The SMTP command a recipient's refusal answered, read from the bounce's prose.

A DSN's Diagnostic-Code rarely says at which stage the remote server refused, but the
human-readable part often does: Postfix ends each recipient's paragraph with "(in reply to
RCPT TO command)", Exim says "SMTP error from remote mail server after EHLO", Sendmail
quotes the session (">>> RCPT To:<a@b>" then "<<< 550 ...", or only "<<< 554" when the
greeting itself refused us). The classifier needs the stage: "user unknown" at RCPT TO is an
unknown mailbox, after DATA a content filter's answer, and a refusal before RCPT TO is about
our sender or connection (Sisimai's Lhost modules read the same facts). The phrases that
name a command are `bounced.smtp_reply.smtp_command`'s, the classifier's reading too.
"""

from __future__ import annotations

import re
from dataclasses import replace

from bounced.model import Failure
from bounced.parse.context import Context
from bounced.parse.mime import MAX_PARSE_BYTES
from bounced.smtp_reply import smtp_command

__all__ = ["with_smtp_commands"]

# A quoted session: RCPT TO naming the address, then (within two lines) the refusal it drew.
_RCPT_RE = re.compile(
    r"^>>> ?rcpt to: ?([^\n]{1,300})\n(?:[^\n]{0,300}\n){0,2}?<<< ?[45]\d\d\b", re.MULTILINE
)
# Sendmail: "... while talking to mx.example.org.:" then straight away "<<< 554": the greeting.
_GREETING_RE = re.compile(r"while talking to [^\n]{1,300}\n<<< ?[45]\d\d\b")
# Bytes one of `smtp_command`'s phrases contains (Postfix, Exim old and new, LMTP, X6, IMail).
_MARKERS = (
    b"command)",
    b"server after",
    b"mailer after",
    b"LMTP error after",
    b"generated following response",
    b"command generated response",
)
_PARAGRAPH = 1500  # characters after a recipient's first mention that may belong to it


def with_smtp_commands(ctx: Context, failures: list[Failure]) -> list[Failure]:
    """`failures` with `smtp_command` set where the prose names the stage of the refusal."""
    if not failures or all(f.smtp_command for f in failures):
        return failures
    # Cheap tests on the raw bytes first: most bounces carry none of the markers, and the
    # prose (decoded, lower-cased) is only read for those that do.
    raw = ctx.raw
    paragraphs = any(raw.find(marker, 0, MAX_PARSE_BYTES) >= 0 for marker in _MARKERS)
    session = raw.find(b"\n<<<", 0, MAX_PARSE_BYTES) >= 0
    if not (paragraphs or session):
        return failures
    lowered = ctx.human.lower()
    at_rcpt = ""
    greeting = False
    if session:
        if ">>> rcpt to:" in lowered:
            at_rcpt = " ".join(match.group(1) for match in _RCPT_RE.finditer(lowered))
        # Every session refused at its greeting (no command was ever sent): nobody got further.
        greeting = "\n>>> " not in lowered and _GREETING_RE.search(lowered) is not None
    result: list[Failure] = []
    for f in failures:
        address = f.recipient.lower()
        command = f.smtp_command
        if not command and address:
            command = _from_paragraph(address, lowered) if paragraphs else None
            if command is None and address in at_rcpt:
                command = "RCPT"
            if command is None and greeting:
                command = "CONN"
        result.append(replace(f, smtp_command=command) if command != f.smtp_command else f)
    return result


def _from_paragraph(address: str, lowered: str) -> str | None:
    """The stage named in the paragraph that starts at the recipient's first mention."""
    at = lowered.find(address)
    if at < 0:
        return None
    end = lowered.find("\n\n", at)
    paragraph = lowered[at : end if 0 <= end < at + _PARAGRAPH else at + _PARAGRAPH]
    return smtp_command(" ".join(paragraph.split()))
