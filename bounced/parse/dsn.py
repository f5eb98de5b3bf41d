"""RFC 3464 delivery status notifications: message/delivery-status fields to Failures.

Also reads DSN fields written into a text part (some gateways do that) and the
`message/global-delivery-status` of RFC 6533.
"""

from __future__ import annotations

import re

from bounced.model import Action, Failure
from bounced.parse.address import valid_recipient
from bounced.parse.mime import Part, iter_parts, part_text
from bounced.parse.text import ADDRESS_RE, clean_diagnostic
from bounced.smtp_reply import find_reply_code, find_status

__all__ = [
    "DSN_TYPES",
    "DsnReport",
    "blocks_from_text",
    "failure_from_block",
    "parse_delivery_status",
    "read_dsn",
]

DSN_TYPES = ("message/delivery-status", "message/global-delivery-status")
_MESSAGE_TYPES = ("message/rfc822", "message/global")
_RECIPIENT_FIELDS = ("final-recipient", "original-recipient", "x-actual-recipient")
_DSN_FIELD_RE = re.compile(
    r"^([A-Za-z][A-Za-z0-9-]{0,60})[ \t]{0,8}:[ \t]*([^\n]*(?:\n[ \t][^\n]*)*)", re.MULTILINE
)
_BLANK_LINE_RE = re.compile(r"\n[ \t]*\n")
_ACTIONS = {
    "failed": Action.FAILED,
    "failure": Action.FAILED,
    "delayed": Action.DELAYED,
    "delay": Action.DELAYED,
    "deferred": Action.DELAYED,
    "delivered": Action.DELIVERED,
    "deliverable": Action.DELIVERED,  # RFC 3464 address-verification reports (sendmail -bv, Postfix)
    "relayed": Action.RELAYED,
    "expanded": Action.EXPANDED,
}
_TYPE_PREFIX_RE = re.compile(r"^\s*(?:[A-Za-z][A-Za-z0-9-]{0,20})\s*;\s*")

Block = dict[str, str]


class DsnReport:
    """Per-message fields and per-recipient blocks of one delivery-status part."""

    __slots__ = ("message_fields", "recipient_blocks")

    def __init__(self, message_fields: Block, recipient_blocks: list[Block]) -> None:
        self.message_fields = message_fields
        self.recipient_blocks = recipient_blocks


def _group(fields: list[tuple[str, str] | None]) -> list[Block]:
    """Group (name, value) pairs into blocks; None is a blank line. A repeated recipient field
    also starts a block, since some MTAs omit the blank line between recipients."""
    blocks: list[Block] = []
    current: Block = {}
    for item in fields:
        if item is None:
            if current:
                blocks.append(current)
                current = {}
            continue
        name, value = item
        if name in _RECIPIENT_FIELDS and name in current:
            blocks.append(current)
            current = {}
        if name in current:
            if name == "diagnostic-code":
                current[name] += " " + value
            continue
        current[name] = value
    if current:
        blocks.append(current)
    return blocks


def blocks_from_text(text: str) -> list[Block]:
    """DSN field blocks from text: folded lines unfolded, other lines skipped. Paragraphs are
    split at blank lines, and each paragraph's fields are read in one regex pass."""
    fields: list[tuple[str, str] | None] = []
    for paragraph in _BLANK_LINE_RE.split(text):
        for name, value in _DSN_FIELD_RE.findall(paragraph):
            if "\n" in value:
                value = " ".join(value.split())
            fields.append((name.lower(), value.strip()))
        fields.append(None)
    return _group(fields)


def _blocks_from_part(part: Part) -> list[Block]:
    return blocks_from_text(part_text(part))


def parse_delivery_status(part: Part) -> DsnReport:
    blocks = _blocks_from_part(part)
    message_fields: Block = {}
    recipients: list[Block] = []
    for block in blocks:
        if any(name in block for name in _RECIPIENT_FIELDS):
            recipients.append(block)
        else:
            message_fields.update({k: v for k, v in block.items() if k not in message_fields})
    return DsnReport(message_fields, recipients)


def _address(value: str) -> str | None:
    typed = _UTF8_TYPE_RE.match(value)
    if typed:
        return _utf8_address(value[typed.end() :])
    m = ADDRESS_RE.search(value)
    if m:
        return m.group(1)
    # The field holds an address by definition (RFC 3464 2.3.2): any valid mailbox will do,
    # not only one the prose pattern would take for an address ("a@b.c", a one-letter TLD).
    return valid_recipient(strip_type(value).split(" ", 1)[0])


# RFC 6533 3: "utf-8; address". In a message/global-delivery-status the address is UTF-8; in
# a plain message/delivery-status non-ASCII is written as "\x{HEX}" (utf-8-addr-xtext/unitext).
_UTF8_TYPE_RE = re.compile(r"\s*utf-8\s*;", re.IGNORECASE)
_UTF8_ESCAPE_RE = re.compile(r"\\x\{([0-9A-Fa-f]{1,6})\}")
_UTF8_ADDRESS_RE = re.compile(r"[^\s<>@]{1,128}@[^\s<>@]{1,255}")


def _unescape(match: re.Match[str]) -> str:
    code = int(match.group(1), 16)
    return chr(code) if code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else "\ufffd"


def _utf8_address(value: str) -> str | None:
    """The address after "utf-8;"; an ASCII one as ADDRESS_RE reads it, so an ASCII address
    reads the same whichever type names it."""
    m = _UTF8_ADDRESS_RE.search(_UTF8_ESCAPE_RE.sub(_unescape, value))
    if m is None:
        return None
    address = m.group(0).strip("\"'.,;")
    if address.isascii():
        ascii_match = ADDRESS_RE.search(address)
        return ascii_match.group(1) if ascii_match else None
    local, _, domain = address.rpartition("@")
    return address if local and "." in domain.strip(".") else None


def _action(value: str, status: str | None) -> Action:
    word = value.strip().lower().split(" ")[0].strip("();") if value.strip() else ""
    if word in _ACTIONS:
        return _ACTIONS[word]
    if status and status[0] == "4":
        return Action.DELAYED
    if status and status[0] == "2":
        return Action.DELIVERED
    return Action.FAILED


def _status_comment(value: str) -> str:
    """The parenthesised comment after a Status code, "" when there is none or when it only
    restates the code ("permanent failure", "other or undefined network or routing status")."""
    opened = value.find("(")
    closed = value.rfind(")")
    comment = clean_diagnostic(value[opened + 1 : closed]) if 0 <= opened < closed else ""
    return "" if _RESTATED_RE.match(comment.lower()) else comment


def strip_type(value: str) -> str:
    """'smtp; 550 ...' -> '550 ...' (RFC 3464 diagnostic-type / mta-name-type prefixes)."""
    return _TYPE_PREFIX_RE.sub("", value, count=1)


# Comments that only name the code's class or RFC 3463 title: a prose diagnostic says more.
_RESTATED_RE = re.compile(r"(?:other or undefined|(?:permanent|temporary|transient) (?:failure|error)\W*$)")


def failure_from_block(block: Block, message_fields: Block | None = None) -> Failure | None:
    recipient = None
    for name in ("final-recipient", "original-recipient", "x-actual-recipient"):
        if name in block:
            recipient = _address(block[name])
            if recipient:
                break
    if not recipient:
        return None
    raw_diagnostic = block.get("diagnostic-code", "")
    diagnostic_type = raw_diagnostic.partition(";")[0].strip().lower() if ";" in raw_diagnostic[:40] else ""
    diagnostic = clean_diagnostic(strip_type(raw_diagnostic))
    status = find_status(block.get("status", ""))
    if not diagnostic:
        # RFC 3464's own example: "Status: 4.0.0 (cat.example.net: host name lookup failure)"
        # and no Diagnostic-Code: the comment is all the reporting MTA says about the failure.
        diagnostic = _status_comment(block.get("status", ""))
    # X-Unix diagnostics carry a program's exit status, never an SMTP reply.
    reply_code = find_reply_code(diagnostic) if diagnostic and diagnostic_type != "x-unix" else None
    diag_status = find_status(diagnostic) if diagnostic else None
    if diag_status and (
        status is None
        # A bare "x.0.0" says less than the code the remote server gave in its own reply.
        or (status.endswith(".0.0") and diag_status[0] == status[0])
        # The server's own "552 5.2.2" reply is more precise than what the reporting MTA
        # summarised in Status (it may even have re-classed a 5xx as 4.x).
        or (reply_code is not None and str(reply_code)[0] == diag_status[0])
    ):
        status = diag_status
    # "dns; mx.example.net. (192.0.2.25, the server for ...)": keep the host name only.
    remote_words = strip_type(block.get("remote-mta", "")).split()
    remote = remote_words[0].strip("[]<>").rstrip(".") or None if remote_words else None
    return Failure(
        recipient=recipient,
        action=_action(block.get("action", ""), status),
        status=status,
        reply_code=reply_code,
        diagnostic=diagnostic,
        remote_mta=remote,
        diagnostic_type=diagnostic_type or None,
    )


def read_dsn(msg: Part, nested: bool = False) -> tuple[list[Failure], Block]:
    """Failures from every delivery-status part of `msg`, and the merged per-message fields.
    With `nested`, only from reports attached as messages (a bounce forwarded to us)."""
    failures: list[Failure] = []
    fields: Block = {}
    if nested:
        # Enter only attached messages that are reports themselves: an ordinary returned
        # original can be large and holds nothing for us.
        for _, part in iter_parts(msg):
            if (
                part.ctype in _MESSAGE_TYPES
                and part.children
                and part.children[0].ctype == "multipart/report"
            ):
                inner, inner_fields = read_dsn(part.children[0])
                failures.extend(inner)
                for k, v in inner_fields.items():
                    fields.setdefault(k, v)
        return failures, fields
    for _, part in iter_parts(msg):
        if part.ctype not in DSN_TYPES:
            continue
        report = parse_delivery_status(part)
        for k, v in report.message_fields.items():
            fields.setdefault(k, v)
        for block in report.recipient_blocks:
            failure = failure_from_block(block, report.message_fields)
            if failure is not None:
                failures.append(failure)
    return failures, fields
