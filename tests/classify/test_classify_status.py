"""Reply codes and enhanced status codes: classes and meanings (reading them: tests/test_smtp_reply.py)."""

from __future__ import annotations

import pytest

from bounced.classify.status import reason_for_status, reply_class, status_class
from bounced.model import Reason


@pytest.mark.parametrize(
    ("status", "cls"), [("5.1.1", 5), ("4.4.7", 4), ("2.1.5", 2), ("x", None), (None, None)]
)
def test_status_class(status: str | None, cls: int | None) -> None:
    assert status_class(status) == cls


@pytest.mark.parametrize(
    ("code", "cls"), [(550, 5), (451, 4), (250, 2), (199, None), (600, None), (None, None)]
)
def test_reply_class(code: int | None, cls: int | None) -> None:
    assert reply_class(code) == cls


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        ("5.1.1", Reason.USERUNKNOWN),
        ("5.1.2", Reason.HOSTUNKNOWN),
        ("5.4.4", Reason.HOSTUNKNOWN),
        ("5.1.6", Reason.HASMOVED),
        ("5.1.8", Reason.REJECTED),
        ("5.1.10", Reason.NOTACCEPT),
        ("5.2.2", Reason.MAILBOXFULL),
        ("4.2.2", Reason.MAILBOXFULL),
        ("5.2.3", Reason.EXCEEDLIMIT),
        ("5.3.4", Reason.MESGTOOBIG),
        ("5.3.1", Reason.SYSTEMFULL),
        ("4.4.7", Reason.EXPIRED),
        ("5.6.1", Reason.CONTENTERROR),
        ("5.6.99", Reason.CONTENTERROR),  # subject default
        ("5.7.1", Reason.SECURITYERROR),
        ("5.7.23", Reason.AUTHFAILURE),
        ("5.7.25", Reason.REQUIREPTR),
        ("5.7.13", Reason.SUSPEND),
        ("2.1.5", Reason.DELIVERED),
        ("5.0.0", None),  # "other": says nothing beyond the class
        ("4.5.0", None),
        (None, None),
    ],
)
def test_reason_for_status(status: str | None, reason: Reason | None) -> None:
    assert reason_for_status(status) == reason
