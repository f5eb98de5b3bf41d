"""Provider patterns and documented provider codes, checked before the general table."""

from __future__ import annotations

import pytest

from bounced.classify.classify import classify_failure
from bounced.classify.diagnostic import normalise_text
from bounced.classify.providers import provider_reason
from bounced.config import ClassifyConfig
from bounced.model import BounceKind, Failure, MessageType, Reason


@pytest.mark.parametrize(
    ("text", "remote_mta", "reason"),
    [
        ("550 5.5.0 Boite du destinataire archivee. Archived recipient. LPN007_420", None, Reason.SUSPEND),
        (
            "550 5.1.1 Adresse d au moins un destinataire invalide. Invalid recipient. OFR_416 [416]",
            None,
            Reason.USERUNKNOWN,
        ),
        (
            "421 mwinf5c79 ME Trop de connexions. Too many connections, slow down. OFR005_104 [104]",
            None,
            Reason.TOOMANYCONN,
        ),
        ("554 5.7.1 Client host rejected LPN000_630", None, Reason.POLICYVIOLATION),
        ("550 This IP has sent too many messages this hour. IB504", None, Reason.SPEEDING),
        (
            "554 Connection refused. This IP has a poor reputation on Cloudmark (CSI). IB103",
            None,
            Reason.BADREPUTATION,
        ),
        ("550 coolexample.com From: Domain is invalid. Provide a valid From: IB506", None, Reason.REJECTED),
        ("554 sender rejected. AUP#CXBL", None, Reason.BLOCKED),
        ("554 rejected. AUP#IPBL1001", None, Reason.BLOCKED),
        ("554 rejected. AUP#URLBL011", None, Reason.SPAMDETECTED),
        ("554 Host network not allowed", "us-smtp-inbound-1.mimecast.com", Reason.POLICYVIOLATION),
        (
            "550 SC-004 (COL0-MC1-F1) Unfortunately, messages from 192.0.2.1 weren't sent.",
            None,
            Reason.BLOCKED,
        ),
        ("Die Gruppe existiert nicht. https://groups.google.com/support/", None, Reason.REJECTED),
        (
            "550 5.1.1 RCP-P1 http://postmaster.facebook.com/response_codes?ip=192.0.2.1#rcp",
            None,
            Reason.USERUNKNOWN,
        ),
        ("421 4.7.1 POL-T1 http://postmaster.facebook.com/response_codes#pol", None, Reason.BLOCKED),
        ("550 5.7.1 Rejected - AUP#I-1340 too many connections", None, Reason.TOOMANYCONN),
        ("554 5.7.1 AUP#O1530 message too large", None, Reason.MESGTOOBIG),
        (
            "553 5.7.2 [TSS09] All messages from 192.0.2.25 will be permanently deferred",
            "mta7.am0.yahoodns.net",
            Reason.REJECTED,
        ),
        (
            "554 delivery error: dd someone@yahoo.com is no longer valid.",
            "mta5.am0.yahoodns.net",
            Reason.SUSPEND,
        ),
        # Microsoft 365's own enhanced status details.
        ("550 5.7.606 Access denied, banned sending IP [192.0.2.1].", None, Reason.BLOCKED),
        (
            "550 5.7.509 Access denied, sending domain example.com does not pass DMARC verification",
            None,
            Reason.AUTHFAILURE,
        ),
        (
            "451 4.7.650 The mail server [192.0.2.5] has been temporarily rate limited due to IP reputation.",
            None,
            Reason.BADREPUTATION,
        ),
        (
            "550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP.",
            None,
            Reason.SPEEDING,
        ),
        ("550 5.4.316 Message expired, connection refused(Socket error code 10061)", None, Reason.EXPIRED),
        ("550 5.7.911 Delivery not authorized, message refused", None, Reason.POLICYVIOLATION),
        ("451 4.7.500 Server busy. Please try again later from [192.0.2.2]. (AS761)", None, None),
        # Not scoped to the provider, or no known code: no provider verdict.
        ("554 Host network not allowed", "mx.example.net", None),
        ("550 5.1.1 user unknown LPN000_777", None, None),
        ("550 5.1.1 user unknown", None, None),
    ],
)
def test_provider_reason(text: str, remote_mta: str | None, reason: Reason | None) -> None:
    assert provider_reason(normalise_text(text), remote_mta) == reason


def test_provider_codes_drive_the_kind() -> None:
    config = ClassifyConfig()
    archived = Failure(
        recipient="x@laposte.net",
        status="5.5.0",
        reply_code=550,
        diagnostic="550 5.5.0 Boite du destinataire archivee. LPN007_420",
    )
    assert classify_failure(archived, MessageType.DSN, config).kind == BounceKind.HARD
    limited = Failure(
        recipient="x@example.com",
        status="5.1.1",
        reply_code=550,
        diagnostic="550 5.1.1 <x@example.com> 203.0.113.2 has sent to too many recipients this hour. IB607",
    )
    result = classify_failure(limited, MessageType.DSN, config)
    assert (result.kind, result.reason) == (BounceKind.SOFT, Reason.SPEEDING)
