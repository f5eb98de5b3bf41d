"""Signed return paths: `b+TOKEN@<verp.domain>`.

Two token forms share the address: delivery-bound tokens of the submission relay
(`delivery.py`, verified against bounced's own delivery record) and stateless tokens any
platform can compute from the recipient, an optional mailing id and the send date
(`sign.py`, specified in docs/signing.md). A stateless token starts with `1`, which the
base32 alphabet of delivery ids never uses, so the two cannot be confused.
"""

from __future__ import annotations

from bounced.verp.delivery import VerpToken, make_return_path, make_token, parse_verp_address, verify_token
from bounced.verp.sign import (
    SignedToken,
    parse_signed_token,
    return_path_for,
    sign_return_path,
    verify_return_path,
    verify_signed_token,
)

__all__ = [
    "SignedToken",
    "VerpToken",
    "make_return_path",
    "make_token",
    "parse_signed_token",
    "parse_verp_address",
    "return_path_for",
    "sign_return_path",
    "verify_return_path",
    "verify_signed_token",
    "verify_token",
]
