"""The product's five documented soft-bounce texts, in DSN, Exim-like and qmail-like layouts.

The Exim and qmail layouts wrap them in "This is a permanent error" prose: the parser still
reports the 4xx reply code faithfully (the classifier makes them soft).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bounced.model import MessageType
from bounced.parse import parse_message

RECIPIENT = "zoe@example.net"
SOFT_TEXTS = (
    "421 Message source blocked temporarily. One or more sender authentication rules matched.",
    "421 Service Temporarily Unavailable",
    "451 Please try again later",
    "451 <{rcpt}>: Recipient address rejected: Intentional policy rejection, please try again later",
    "450 <{sender}>: Sender address rejected: Greylisted for 120 seconds! Please, see "
    "https://greylist.example.net/why",
)


@pytest.mark.parametrize("layout", ["dsn", "exim", "qmail"])
@pytest.mark.parametrize(
    "template", SOFT_TEXTS, ids=["blocked-temp", "unavailable", "try-later", "policy", "greylist"]
)
def test_soft_text_parsed_faithfully(
    layout: str, template: str, sender: str, render_template: Callable[[str, str, str], bytes]
) -> None:
    reply = template.format(rcpt=RECIPIENT, sender=sender)
    parsed = parse_message(render_template(layout, RECIPIENT, reply))
    assert parsed.message_type is MessageType.DSN
    # One failure, for the recipient: the sender address inside the greylisting text is not one.
    [failure] = parsed.failures
    assert failure.recipient == RECIPIENT
    assert failure.reply_code == int(reply[:3])
    assert reply in failure.diagnostic
    assert failure.status is None or failure.status.startswith("4.")
    assert parsed.original.mailing_id == "tmpl-mailing"
