"""Signed VERP return paths: round trip, case-insensitivity, forgery, key rotation."""

from __future__ import annotations

import re

import pytest

from bounced.config.sending import VerpConfig
from bounced.errors import VerpError
from bounced.verp import make_return_path, make_token, parse_verp_address, verify_token

VERP = VerpConfig(domain="bounces.example.net", secret="s3cret")


@pytest.mark.parametrize("delivery_id", [0, 1, 31, 32, 123456, 2**40, 2**63 - 1])
def test_round_trip(delivery_id: int) -> None:
    path = make_return_path(delivery_id, "Alice@Example.com", VERP)
    local, _, domain = path.rpartition("@")
    assert domain == "bounces.example.net"
    assert re.fullmatch(r"b\+[a-z2-7]+-[a-z2-7]{16}", local), local
    assert len(local) <= 40
    token = parse_verp_address(path, VERP, recipient="Alice@example.com")
    assert token is not None and token.verified and token.delivery_id == delivery_id


def test_case_insensitive_and_brackets() -> None:
    path = make_return_path(987, "bob@example.org", VERP)
    for variant in (path.upper(), f"<{path}>", path.lower(), path.replace("bounces", "BOUNCES")):
        token = parse_verp_address(variant, VERP, recipient="bob@example.org")
        assert token is not None and token.delivery_id == 987


def test_not_a_verp_address() -> None:
    assert parse_verp_address("postmaster@bounces.example.net", VERP) is None
    assert parse_verp_address("b+abc-abc@other.example", VERP) is None
    assert parse_verp_address("x+abc@bounces.example.net", VERP) is None
    assert parse_verp_address("", VERP) is None


def test_forged_or_malformed() -> None:
    path = make_return_path(5, "carol@example.com", VERP)
    # Same token claimed for another recipient: does not verify.
    with pytest.raises(VerpError):
        parse_verp_address(path, VERP, recipient="mallory@example.com")
    # Another id with the first id's MAC.
    forged = path.replace("b+f-", "b+g-")
    with pytest.raises(VerpError):
        parse_verp_address(forged, VERP, recipient="carol@example.com")
    for bad in (
        "b+f@bounces.example.net",
        "b+f-short@bounces.example.net",
        "b+f-" + "1" * 16 + "@bounces.example.net",
    ):
        with pytest.raises(VerpError):
            parse_verp_address(bad, VERP)
    # Signed with a secret we never had.
    other = make_return_path(5, "carol@example.com", VerpConfig(domain="bounces.example.net", secret="x"))
    token = parse_verp_address(other, VERP)
    assert token is not None and not token.verified
    with pytest.raises(VerpError):
        verify_token(token, "carol@example.com", VERP)


def test_rotated_secret_still_verifies() -> None:
    old = make_return_path(77, "dave@example.com", VerpConfig(domain="bounces.example.net", secret="old"))
    rotated = VerpConfig(domain="bounces.example.net", secret="new", previous_secrets=["old"])
    token = parse_verp_address(old, rotated, recipient="dave@example.com")
    assert token is not None and token.verified
    # and dropped from previous_secrets it no longer does
    with pytest.raises(VerpError):
        parse_verp_address(
            old, VerpConfig(domain="bounces.example.net", secret="new"), recipient="dave@example.com"
        )


def test_empty_secret_refuses_to_sign() -> None:
    with pytest.raises(VerpError):
        make_token(1, "a@b.c", "")
