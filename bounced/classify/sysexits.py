"""A local program's exit status as a reason: `Diagnostic-Code: X-Unix; 67`.

Sendmail reports a local delivery program's failure (procmail, a pipe to a script) with the
RFC 3464 diagnostic-type "X-Unix" and the program's exit status, whose meanings sysexits.h
documents (BSD; shipped by every Unix libc). Sisimai reads every such status as
`mailererror` (Reason/MailerError.pm: "x-unix; \\d+"); two of them say more than that and are
read as what they name (a deliberate difference, docs/classify.md):

    EX_NOUSER   67  "addressee unknown"      -> userunknown
    EX_NOHOST   68  "host name unknown"      -> hostunknown

and one says the failure is temporary, whatever the Status class:

    EX_TEMPFAIL 75  "temporary failure, user is invited to retry" -> soft
"""

from __future__ import annotations

import re

from bounced.model import Failure, Reason

__all__ = ["EX_TEMPFAIL", "X_UNIX", "exit_reason", "exit_status"]

X_UNIX = "x-unix"  # the diagnostic-type of a local program's answer
EX_TEMPFAIL = 75
_NAMED: dict[int, Reason] = {67: Reason.USERUNKNOWN, 68: Reason.HOSTUNKNOWN}
# The whole diagnostic is the status ("255"), or the status then words ("71 (OS error)").
_STATUS_RE = re.compile(r"\s*(\d{1,3})(?!\d)(?:\s|$)")


def exit_status(failure: Failure) -> int | None:
    """The exit status an X-Unix Diagnostic-Code carries, else None."""
    if (failure.diagnostic_type or "").lower() != X_UNIX:
        return None
    m = _STATUS_RE.match(failure.diagnostic[:16])
    return int(m.group(1)) if m else None


def exit_reason(failure: Failure) -> tuple[Reason, str] | None:
    """(reason, rule name) for an X-Unix exit status, else None."""
    code = exit_status(failure)
    if code is None:
        return None
    return _NAMED.get(code, Reason.MAILERERROR), f"sysexits:{code}"
