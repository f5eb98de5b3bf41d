"""What counts as an email address where an operator types one (`suppression add ADDR` ...).

Deliberately lenient about the local part (real mailboxes break RFC 5322: `a..b@docomo.ne.jp`
exists), strict about the shape: one `local@domain`, no spaces, and a domain that can be
mail's destination on the Internet: two or more labels (`example.com`, IDN labels allowed),
or an address literal (`[192.0.2.1]`, `[IPv6:2001:db8::1]`). A dotless `a@b` is refused:
it is a typo far more often than a mailbox, and no bounce ever names one.
"""

from __future__ import annotations

import ipaddress
import re

from bounced.model import normalise_address

__all__ = ["address_problem"]

# Letters, digits, hyphen and underscore (seen in real host names) or any non-ASCII (IDN).
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_\-\u0080-\U0010ffff]{1,63}(?<!-)$")
_LOCAL_FORBIDDEN = frozenset('@<>()[]\\,;:"')
_EXPECTED = "expected local@domain with a dotted domain such as example.com, or local@[IP]"


def address_problem(text: str) -> str | None:
    """Why `text` is not an email address, or None when it is one."""
    addr = normalise_address(text)
    local, at, domain = addr.rpartition("@")
    shown = repr(text)
    if not at or not local or not domain:
        return f"{shown} is not an email address ({_EXPECTED})"
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in addr):
        return f"{shown} is not an email address (spaces and control characters are not allowed)"
    quoted = len(local) >= 2 and local[0] == local[-1] == '"'
    if not quoted and any(c in _LOCAL_FORBIDDEN for c in local):
        return f"{shown} is not an email address (the local part {local!r} needs quotes for those characters)"
    if domain.startswith("[") and domain.endswith("]"):
        literal = domain[1:-1]
        literal = literal[5:] if literal.lower().startswith("ipv6:") else literal
        try:
            ipaddress.ip_address(literal)
        except ValueError:
            return f"{shown} is not an email address (bad address literal {domain!r})"
        return None
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        return f"{shown} is not an email address: the domain {domain!r} is not a domain name ({_EXPECTED})"
    return None
