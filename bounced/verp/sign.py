"""Stateless signed return paths any platform can compute (specified in docs/signing.md).

    TOKEN   = "1" KEY-ID "-" DAY MAC [ "-" MAILING ]
    DAY     = 3 base32 digits: days since 2020-01-01 (the send date, UTC)
    MAC     = 16 base32 chars: the first 10 bytes of HMAC-SHA256(key,
              "bounced-rp1\n" KEY-ID "\n" YYYY-MM-DD "\n" MAILING-ID "\n" lower(recipient))
    MAILING = the mailing id's UTF-8 bytes in base32 (at most 20 bytes)

Everything is lower-case base32 (RFC 4648 alphabet, no padding) or the key id's
[a-z0-9]: valid in a local part, and readable again after an MTA changed its case.
The token does not carry the recipient (an address may be 254 octets, a local part 64):
it binds it. The bounce names the recipient, and the MAC must verify for that address,
so a token copied from one recipient's mail cannot suppress another address.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import date, timedelta

from bounced.config.sending import VerpConfig
from bounced.errors import VerpError
from bounced.verp.address import token_text

__all__ = [
    "MAX_LOCAL_PART",
    "MAX_MAILING_BYTES",
    "SIGNED_MARKER",
    "SignedToken",
    "parse_signed_token",
    "return_path_for",
    "sign_return_path",
    "signed_token",
    "verify_return_path",
    "verify_signed_token",
]

SIGNED_MARKER = "1"  # never a base32 digit, so never the start of a delivery-bound token
MAX_LOCAL_PART = 64  # RFC 5321 4.5.3.1.1
MAX_MAILING_BYTES = 20
_EPOCH = date(2020, 1, 1)
_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_DAY_CHARS = 3
_MAC_CHARS = 16
_TOKEN = re.compile(r"^1([a-z0-9]{1,8})-([a-z2-7]{3})([a-z2-7]{16})(?:-([a-z2-7]{1,32}))?$")
KEY_ID = re.compile(r"^[a-z0-9]{1,8}$")  # the same rule as config [verp.keys]


@dataclass(frozen=True, slots=True)
class SignedToken:
    key_id: str
    sent: date
    mac: str
    mailing_id: str | None = None


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


def _unb32(text: str) -> bytes:
    return base64.b32decode(text.upper() + "=" * (-len(text) % 8))


def _mac(key: str, key_id: str, sent: date, mailing_id: str, recipient: str) -> str:
    message = f"bounced-rp1\n{key_id}\n{sent.isoformat()}\n{mailing_id}\n{recipient.strip().lower()}"
    return _b32(hmac.new(key.encode(), message.encode(), hashlib.sha256).digest()[:10])


def _day(sent: date) -> str:
    days = (sent - _EPOCH).days
    if not 0 <= days < 32**_DAY_CHARS:
        raise VerpError(f"send date {sent} outside 2020-01-01..2109: cannot be signed")
    return "".join(_ALPHABET[(days >> shift) & 31] for shift in (10, 5, 0))


def signed_token(key_id: str, key: str, recipient: str, sent: date, mailing_id: str | None = None) -> str:
    if not KEY_ID.match(key_id):
        raise VerpError(f"key id {key_id!r}: expected 1-8 characters a-z 0-9")
    if not key:
        raise VerpError(f"key {key_id!r} is empty")
    if "@" not in recipient:
        raise VerpError(f"recipient {recipient!r}: expected an address")
    mailing = mailing_id or ""
    if len(mailing.encode()) > MAX_MAILING_BYTES:
        raise VerpError(f"mailing id {mailing!r}: at most {MAX_MAILING_BYTES} bytes fit in a return path")
    token = f"{SIGNED_MARKER}{key_id}-{_day(sent)}{_mac(key, key_id, sent, mailing, recipient)}"
    return f"{token}-{_b32(mailing.encode())}" if mailing else token


def sign_return_path(
    recipient: str,
    *,
    key_id: str,
    key: str,
    domain: str,
    sent: date,
    mailing_id: str | None = None,
    prefix: str = "b",
) -> str:
    """`<prefix>+TOKEN@<domain>`; VerpError when the local part would exceed 64 octets."""
    local = f"{prefix}+{signed_token(key_id, key, recipient, sent, mailing_id)}"
    if len(local) > MAX_LOCAL_PART:
        raise VerpError(
            f"local part {local!r} is {len(local)} octets, over {MAX_LOCAL_PART}: shorten the mailing id"
        )
    return f"{local}@{domain}"


def return_path_for(verp: VerpConfig, recipient: str, sent: date, mailing_id: str | None = None) -> str:
    """The return path with the configured signing key (`verp.signing_key`)."""
    key_id = verp.active_key_id
    if key_id is None:
        raise VerpError("no signing key: set [verp.keys] (and verp.signing_key when there are several)")
    return sign_return_path(
        recipient, key_id=key_id, key=verp.keys[key_id], domain=verp.domain, sent=sent,
        mailing_id=mailing_id, prefix=verp.local_prefix,
    )  # fmt: skip


def parse_signed_token(text: str) -> SignedToken | None:
    """None when `text` is not a stateless token; VerpError when it looks like one but is malformed."""
    text = text.lower()
    if not text.startswith(SIGNED_MARKER):
        return None
    match = _TOKEN.match(text)
    if match is None:
        raise VerpError(f"malformed signed token {text!r}")
    key_id, day, mac, mailing = match.groups()
    days = sum(_ALPHABET.index(c) << shift for c, shift in zip(day, (10, 5, 0), strict=True))
    try:
        mailing_id = _unb32(mailing).decode() if mailing else None
    except (ValueError, UnicodeDecodeError):
        raise VerpError(f"malformed mailing id in signed token {text!r}") from None
    return SignedToken(key_id, _EPOCH + timedelta(days=days), mac, mailing_id)


def verify_signed_token(
    token: SignedToken, recipient: str, keys: dict[str, str], today: date, max_age_days: int
) -> None:
    """Raise VerpError unless a known key signed `token` for `recipient` within the age limit."""
    key = keys.get(token.key_id)
    if not key:
        raise VerpError(f"unknown key id {token.key_id!r}")
    if token.sent > today + timedelta(days=1):
        raise VerpError(f"send date {token.sent} is in the future")
    if (today - token.sent).days > max_age_days:
        raise VerpError(f"token of {token.sent} is older than verp.token_max_age_days ({max_age_days})")
    expected = _mac(key, token.key_id, token.sent, token.mailing_id or "", recipient)
    if not hmac.compare_digest(expected, token.mac):
        raise VerpError(f"signature does not verify for {recipient}")


def verify_return_path(address: str, recipient: str, verp: VerpConfig, today: date) -> SignedToken | None:
    """None when `address` is not a stateless return path of ours; the verified token, or
    VerpError when it is one that does not verify for `recipient`."""
    text = token_text(address, verp)
    token = parse_signed_token(text) if text is not None else None
    if token is None:
        return None
    verify_signed_token(token, recipient, verp.keys, today, verp.token_max_age_days)
    return token
