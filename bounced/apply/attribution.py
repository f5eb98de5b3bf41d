"""Attribution: which recipient (and which of our deliveries) a bounce is about.

A bounce comes back to a signed return path. `ReturnPathAttributor` reads the token where it
can be found (envelope recipients, then where MTAs copy it: Delivered-To / X-Original-To, the
Return-Path of the returned original) and accepts two forms:

- stateless tokens a platform signs itself (`bounced.verp.sign`, docs/signing.md): they bind
  a recipient, so the MAC must verify for an address the bounce names (a failed recipient,
  or the returned original's To);
- delivery-bound tokens of the submission relay (`bounced.verp.delivery`), verified against
  the delivery's recipient in the store.

A token that does not verify gives a warning and no attribution: the bounce is unsigned and
the unsigned-bounce policy applies.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from bounced.config import Config
from bounced.errors import VerpError
from bounced.logfmt import kv
from bounced.model import Attribution, IntakeMessage, ParsedMessage
from bounced.store.base import DeliveryLookup
from bounced.verp.delivery import parse_verp_address, verify_token
from bounced.verp.sign import verify_return_path

__all__ = ["Attributor", "ReturnPathAttributor"]

log = logging.getLogger("bounced.apply")


class Attributor(Protocol):
    async def attribute(self, intake: IntakeMessage, parsed: ParsedMessage) -> Attribution | None:
        """The recipient (and delivery) a bounce refers to, or None when it cannot tell.

        `Attribution.signed` is True only for a valid token: that is what lets a hard
        bounce or a complaint suppress an address once signing keys are configured."""
        ...


def _token_addresses(intake: IntakeMessage, parsed: ParsedMessage) -> list[str]:
    candidates = [*intake.rcpt_tos, *parsed.envelope_to]
    if parsed.original.return_path:
        candidates.append(parsed.original.return_path)
    seen: set[str] = set()
    unique = []
    for address in candidates:
        if address.lower() not in seen:
            seen.add(address.lower())
            unique.append(address)
    return unique


def _named_recipients(parsed: ParsedMessage) -> list[str]:
    names = [f.recipient for f in parsed.failures]
    if parsed.original.to_address:
        names.append(parsed.original.to_address)
    return names


class ReturnPathAttributor:
    """Implements `Attributor` for both token forms; reads the config current at each call."""

    def __init__(self, store: DeliveryLookup, config: Callable[[], Config]) -> None:
        self.store = store
        self._config = config

    async def attribute(self, intake: IntakeMessage, parsed: ParsedMessage) -> Attribution | None:
        verp = self._config().verp
        for address in _token_addresses(intake, parsed):
            found = self._stateless(intake, parsed, address) if verp.keys else None
            if found is None:
                found = await self._delivery_bound(intake, address)
            if found is not None:
                return found
        return None

    def _stateless(self, intake: IntakeMessage, parsed: ParsedMessage, address: str) -> Attribution | None:
        verp = self._config().verp
        today = intake.received_at.date()
        error: VerpError | None = None
        for recipient in _named_recipients(parsed):
            try:
                token = verify_return_path(address, recipient, verp, today)
            except VerpError as exc:
                error = exc
                continue
            if token is None:
                return None  # not a stateless token
            return Attribution(recipient=recipient, mailing_id=token.mailing_id, signed=True)
        if error is not None:
            log.warning(
                "forged, expired or malformed signed return path",
                extra=kv(intake=intake.id, address=address, peer=intake.peer, error=error),
            )
        return None

    async def _delivery_bound(self, intake: IntakeMessage, address: str) -> Attribution | None:
        verp = self._config().verp
        try:
            token = parse_verp_address(address, verp)
        except VerpError as exc:
            log.warning(
                "forged or malformed VERP token", extra=kv(intake=intake.id, address=address, error=exc)
            )
            return None
        if token is None:
            return None
        delivery = await self.store.get_delivery(token.delivery_id)
        if delivery is None:
            log.warning("VERP token for an unknown delivery", extra=kv(intake=intake.id, address=address))
            return None
        try:
            verify_token(token, delivery.recipient, verp)
        except VerpError:
            log.warning("forged VERP token", extra=kv(intake=intake.id, address=address, peer=intake.peer))
            return None
        message = await self.store.get_outbound(delivery.message_id)
        return Attribution(
            recipient=delivery.recipient,
            delivery_id=delivery.id,
            mailing_id=delivery.mailing_id,
            from_domain=delivery.from_domain,
            sending_ip=delivery.sending_ip,
            message_id=message.message_id if message is not None else None,
            signed=True,
        )
