"""The token part of one of our return paths, `<local_prefix>+TOKEN@<verp.domain>`: both token
forms (delivery-bound and platform-signed) share the address shape, compared case-insensitively
because MTAs change the case of local parts and domains."""

from __future__ import annotations

from bounced.config.sending import VerpConfig

__all__ = ["token_text"]


def token_text(address: str, verp: VerpConfig) -> str | None:
    """TOKEN of `address`, or None when it is not addressed like our return paths."""
    addr = address.strip().strip("<>").strip()
    local, at, domain = addr.rpartition("@")
    if not at or domain.lower().rstrip(".") != verp.domain.lower():
        return None
    prefix, plus, token = local.partition("+")
    if not plus or prefix.lower() != verp.local_prefix.lower():
        return None
    return token
