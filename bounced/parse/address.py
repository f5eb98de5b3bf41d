"""What the parser may emit as a recipient: one syntactic check, applied where `scan` returns.

A recipient goes on a suppression list, so it must be an address that mail could have been
sent to: an RFC 5321 Mailbox (dot-atom or quoted-string local part, a domain of LDH labels
or an address literal), with the RFC 6531 forms (UTF-8 in the local part and U-labels in
the domain). Anything else found in a bounce (a JSON fragment, a URL parameter, an ARN, a
word glued to an address) is not a recipient.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = [
    "REDACTED_RECIPIENT",
    "drop_glued_copies",
    "is_redacted",
    "valid_recipient",
]

# Stand-in for a complaint whose recipient the provider withheld (the same value Sisimai
# uses, so the two tools' answers compare); `.invalid` (RFC 2606) can never be delivered to.
REDACTED_RECIPIENT = "undisclosed-recipient-in-headers@libsisimai.org.invalid"

# RFC 5322 atext, plus any non-ASCII character (RFC 6531 UTF8-non-ascii).
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]+"
_DOT_ATOM_RE = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
_QUOTED_RE = re.compile(r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e\u0080-\U0010ffff]|\\[\x20-\x7e])*"')
_LABEL_RE = re.compile(
    r"[A-Za-z0-9\u0080-\U0010ffff](?:[A-Za-z0-9\-\u0080-\U0010ffff]{0,61}[A-Za-z0-9\u0080-\U0010ffff])?"
)
_IPV4_LITERAL_RE = re.compile(r"\[(?:\d{1,3}\.){3}\d{1,3}\]")
_IPV6_LITERAL_RE = re.compile(r"\[IPv6:[0-9A-Fa-f:.]{2,45}\]")
# Local parts providers write in place of one they withhold.
_REDACTED_LOCALS = frozenset(
    {
        "redacted",
        "undisclosed",
        "undisclosed-recipient",
        "undisclosed-recipients",
        "hashed",
        "removed",
        "hidden",
    }
)
_MASK_RE = re.compile(r"[x*#.]{3,}", re.IGNORECASE)
# An address-type label in front of the address (Exchange's "SMTP=a@x", X.400 "dda:SMTP=a@x",
# RFC 3464's "rfc822;a@x" when a parser missed the semicolon split).
_TYPE_PREFIX_RE = re.compile(r"^(?:smtp|rfc822|x400|ex)[=:;]\s*", re.IGNORECASE)


def valid_recipient(candidate: str) -> str | None:
    """`candidate` (angle brackets and surrounding space removed) if it is a valid mailbox,
    else None."""
    address = candidate.strip()
    if address.startswith("<") and address.endswith(">"):
        address = address[1:-1].strip()
    address = _TYPE_PREFIX_RE.sub("", address, count=1)
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or len(address.encode("utf-8", "surrogatepass")) > 254:
        return None
    if len(local.encode("utf-8", "surrogatepass")) > 64:
        return None
    if not (_DOT_ATOM_RE.fullmatch(local) or _QUOTED_RE.fullmatch(local)):
        return None
    if domain.startswith("["):
        return address if _IPV4_LITERAL_RE.fullmatch(domain) or _IPV6_LITERAL_RE.fullmatch(domain) else None
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL_RE.fullmatch(label) for label in labels):
        return None
    # "??--" labels are reserved (RFC 5890 2.3.1, R-LDH); of them only A-labels ("xn--") exist.
    if any(label[2:4] == "--" and label[:2].lower() != "xn" for label in labels):
        return None
    # Every top-level domain ends with a letter (RFC 1123 2.1; IANA's registry; the rule
    # email-validator applies): "a@192.0.2.1" or "a@host.b9" is no mailbox.
    if domain.isascii() and not domain[-1].isalpha():
        return None
    return address


def is_redacted(address: str) -> bool:
    """The provider replaced the recipient with a placeholder (redacted@, xxxxx@, ***@)."""
    local = address.rpartition("@")[0].strip('"').lower()
    return local in _REDACTED_LOCALS or bool(_MASK_RE.fullmatch(local))


# What ends up glued to an address in prose: "rcpt=", quoted-printable "=3D", a reply code.
_GLUE_WORDS = frozenset({"3d", "to", "rcpt", "for", "mailto", "from", "user", "recipient"})


def _is_glue(prefix: str) -> bool:
    return prefix.endswith(("=", "/")) or prefix.isdigit() or prefix in _GLUE_WORDS


def drop_glued_copies(addresses: Iterable[str]) -> set[str]:
    """Lower-cased addresses that are another one of `addresses` with text glued to its
    front ("rcpt=a@x", "550a@x" beside "a@x"): a prose artefact, never a second recipient."""
    lowered = {a.lower() for a in addresses}
    glued: set[str] = set()
    for a in lowered:
        at = a.rfind("@")
        # Linear in the local part's length: every split point is one set lookup.
        for i in range(1, at):
            if a[i:] in lowered and _is_glue(a[:i]):
                glued.add(a)
                break
    return glued
