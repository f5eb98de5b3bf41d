"""Delivery-bound VERP return paths (the submission relay): `b+TOKEN@<verp.domain>`.

TOKEN is `<delivery id>-<mac>`: the delivery id in lower-case base32 digits and 16
base32 characters (80 bits) of HMAC-SHA256 over (delivery id, recipient) with
`verp.secret`. Lower-case base32 without padding is valid in an SMTP local part and
survives MTAs that lower-case (or upper-case) local parts: parsing ignores case.

The MAC binds the token to the recipient, so a token cannot be replayed for another
address and a reused delivery id (a restored database) does not verify. Verifying
therefore needs the delivery's recipient: `parse_verp_address(address, config)` checks
the form, and with `recipient=` also the signature (`verify_token` does the same later).
Secrets in `previous_secrets` still verify, so keys can be rotated without losing the
bounces of mail sent under the old key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from bounced.config.sending import VerpConfig
from bounced.errors import VerpError
from bounced.model import normalise_address
from bounced.verp.address import token_text as our_token

__all__ = [
    "VerpToken",
    "make_return_path",
    "make_token",
    "parse_verp_address",
    "verify_token",
]

_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"  # RFC 4648 base32, lower-cased
_MAC_CHARS = 16  # 80 bits: forging by guessing is out of reach
_MAX_ID_CHARS = 13  # 64-bit ids


@dataclass(frozen=True, slots=True)
class VerpToken:
    delivery_id: int
    mac: str  # lower-case base32
    verified: bool = False  # True once checked against the delivery's recipient


def _verp_section(config: Any) -> VerpConfig:
    """Accept the [verp] section or the whole Config."""
    return config.verp if hasattr(config, "verp") else config


def _encode_int(value: int) -> str:
    if value < 0:
        raise ValueError("delivery id must not be negative")
    digits = []
    while True:
        value, rem = divmod(value, 32)
        digits.append(_ALPHABET[rem])
        if value == 0:
            break
    return "".join(reversed(digits))


def _decode_int(text: str) -> int:
    value = 0
    for char in text:
        index = _ALPHABET.find(char)
        if index < 0:
            raise VerpError(f"invalid character {char!r} in VERP token")
        value = value * 32 + index
    return value


def _mac(secret: str, delivery_id: int, recipient: str) -> str:
    message = f"{delivery_id}\n{normalise_address(recipient)}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b32encode(digest[:10]).decode("ascii").lower()  # 10 bytes = 16 chars, no '='


def make_token(delivery_id: int, recipient: str, secret: str) -> str:
    if not secret:
        raise VerpError("verp.secret is empty: cannot sign return paths")
    return f"{_encode_int(delivery_id)}-{_mac(secret, delivery_id, recipient)}"


def make_return_path(delivery_id: int, recipient: str, config: Any) -> str:
    """The envelope sender for one delivery: `<prefix>+<token>@<verp.domain>`."""
    verp = _verp_section(config)
    token = make_token(delivery_id, recipient, verp.secret)
    return f"{verp.local_prefix}+{token}@{verp.domain}"


def verify_token(token: VerpToken, recipient: str, config: Any) -> VerpToken:
    """Return the token marked verified, or raise VerpError if no known secret signed it."""
    verp = _verp_section(config)
    for secret in (verp.secret, *verp.previous_secrets):
        if secret and hmac.compare_digest(_mac(secret, token.delivery_id, recipient), token.mac):
            return VerpToken(token.delivery_id, token.mac, verified=True)
    raise VerpError(f"VERP token for delivery {token.delivery_id} does not verify for {recipient}")


def parse_verp_address(address: str, config: Any, recipient: str | None = None) -> VerpToken | None:
    """None when `address` is not one of our VERP addresses (other local part or domain).

    Raises VerpError when it is addressed like one but the token is malformed, or (when
    `recipient` is given) its signature does not verify.
    """
    verp = _verp_section(config)
    token_text = our_token(address, verp)
    if token_text is None:
        return None
    if token_text.startswith("1"):  # a stateless token (bounced.verp.sign), not delivery-bound
        return None
    id_text, dash, mac = token_text.lower().partition("-")
    if not dash or not id_text or len(id_text) > _MAX_ID_CHARS or len(mac) != _MAC_CHARS:
        raise VerpError(f"malformed VERP token in {address.strip()!r}")
    if any(c not in _ALPHABET for c in mac):
        raise VerpError(f"malformed VERP token in {address.strip()!r}")
    token = VerpToken(_decode_int(id_text), mac)
    if recipient is not None:
        return verify_token(token, recipient, verp)
    return token
