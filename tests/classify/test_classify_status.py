"""Reply codes and enhanced status codes: classes, normalisation, meanings, extraction."""

from __future__ import annotations

import pytest

from bounced.classify.status import (
    find_reply_code,
    find_status,
    normalise_status,
    reason_for_status,
    reply_class,
    status_class,
)
from bounced.model import Reason


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("5.1.1", "5.1.1"),
        (" 4.2.2 ", "4.2.2"),
        ("#5.1.1", "5.1.1"),
        ("5.7.606", "5.7.606"),
        ("5.01.001", "5.1.1"),
        ("2.0.0", "2.0.0"),
        ("", None),
        (None, None),
        ("550", None),
        ("6.1.1", None),
    ],
)
def test_normalise_status(raw: str | None, expected: str | None) -> None:
    assert normalise_status(raw) == expected


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


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("550 5.1.1 <a@example.com>: Recipient address rejected", 550),
        ("host mx.example.com [192.0.2.1] said: 452 4.2.2 Mailbox full", 452),
        ("550-5.7.1 [192.0.2.1] Our system has detected", 550),
        ("Remote host said: 554 INVALID IP", 554),
        ("Greylisted for 250 seconds", None),  # a number of seconds is not a reply
        ("exceeded 500 recipients", None),
        ("no code here at all", None),
        ("port 2525 refused", None),
    ],
)
def test_find_reply_code(text: str, code: int | None) -> None:
    assert find_reply_code(text) == code


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("550 5.1.1 user unknown", "5.1.1"),
        ("Unable to contact LDAP server. (#4.4.3)", "4.4.3"),
        ("version 1.2.3 of something", None),  # class digit must be 2, 4 or 5
        ("nothing", None),
    ],
)
def test_find_status(text: str, status: str | None) -> None:
    assert find_status(text) == status
