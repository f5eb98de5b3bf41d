"""Hostile and odd input: never an exception, bounded work, same answers across encodings."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bounced.model import MessageType
from bounced.parse import parse_message
from tests.conftest import CORPUS as SHARED_CORPUS

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FIXTURE_FILES = sorted(FIXTURES.glob("*.eml"))
CORPUS = SHARED_CORPUS / "emails"
TIME_BOUND = 2.0  # CPU seconds per message (not wall time: other load cannot fail it); a hang detector


def _parse_bounded(raw: bytes):  # type: ignore[no-untyped-def]
    started = time.process_time()
    parsed = parse_message(raw)
    elapsed = time.process_time() - started
    assert elapsed < TIME_BOUND, f"parse took {elapsed:.2f}s"
    assert isinstance(parsed.failures, tuple)
    # The last-resort guard in parse_message must not be what kept us alive.
    assert not any(d.startswith("parse error") for d in parsed.defects), parsed.defects
    return parsed


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.name)
@pytest.mark.parametrize("newline", [b"\r\n", b"\r"], ids=["crlf", "cr"])
def test_line_endings_do_not_change_the_answer(path: Path, newline: bytes) -> None:
    raw = path.read_bytes()
    assert parse_message(raw.replace(b"\n", newline)) == parse_message(raw)


def test_declared_charset_is_used_for_diagnostics() -> None:
    body = (
        "Die Nachricht an <ute@example.de> konnte nicht zugestellt werden.\n550 5.1.1 Empfänger unbekannt\n"
    )
    raw = (
        b"From: MAILER-DAEMON@mx.example.de\nTo: news@sender.example\nSubject: Unzustellbar\n"
        b"Content-Type: text/plain; charset=iso-8859-1\n\n" + body.encode("latin-1")
    )
    [f] = parse_message(raw).failures
    assert (f.recipient, f.reply_code, f.status) == ("ute@example.de", 550, "5.1.1")
    assert "Empfänger unbekannt" in f.diagnostic


def test_undeclared_eight_bit_and_wrong_charset_are_survived() -> None:
    raw = (
        b"From: MAILER-DAEMON@mx.example.de\nTo: news@sender.example\nSubject: Unzustellbar \xe9\xff\n"
        b"Content-Type: text/plain; charset=x-no-such-charset\n\n"
        b"<ute@example.de>: 550 5.1.1 \xff\xfe\xe4 unknown\n"
    )
    parsed = parse_message(raw)
    [f] = parsed.failures
    assert (f.recipient, f.reply_code) == ("ute@example.de", 550)


def test_encoded_word_subject_is_decoded(parse_fixture: Callable) -> None:  # type: ignore[type-arg]
    raw = (
        b"From: =?utf-8?q?Mail_Daemon?= <MAILER-DAEMON@x.example>\nTo: a@sender.example\n"
        b"Subject: =?UTF-8?B?VW56dXN0ZWxsYmFy?=\n\n<b@y.example>: 550 5.1.1 unknown\n"
    )
    parsed = parse_message(raw)
    assert parsed.subject == "Unzustellbar"
    assert [f.recipient for f in parsed.failures] == ["b@y.example"]


def test_broken_encoded_words_stay_as_written() -> None:
    # Python's decoder raises on this word (bad base64 padding).
    raw = b"From: MAILER-DAEMON@x.example\nSubject: Failed =?utf-8?b?QUJDR?=\n\n<b@y.example>: 550 x\n"
    parsed = parse_message(raw)
    assert parsed.subject == "Failed =?utf-8?b?QUJDR?="
    assert [f.recipient for f in parsed.failures] == ["b@y.example"]


def test_truncated_report_still_yields_the_recipient() -> None:
    raw = (FIXTURES / "rfc3464.eml").read_bytes()
    cut = raw[: raw.index(b"Final-Recipient: rfc822; bob")]
    parsed = parse_message(cut)
    assert [f.recipient for f in parsed.failures] == ["alice@example.net"]


def test_missing_boundary_is_read_as_text() -> None:
    raw = (
        b"From: MAILER-DAEMON@mx.example\nTo: a@sender.example\nSubject: Delivery failure\n"
        b'Content-Type: multipart/report; boundary="never-used"\n\n'
        b"Final-Recipient: rfc822; lost@example.org\nAction: failed\nStatus: 5.1.1\n"
        b"Diagnostic-Code: smtp; 550 5.1.1 no such user\n"
    )
    [f] = parse_message(raw).failures
    assert (f.recipient, f.status, f.reply_code) == ("lost@example.org", "5.1.1", 550)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00" * 1000,
        b"Subject: " + b"A" * 2_000_000 + b"\n\nbody",
        b"From: x@y.example\n" + b"X-Junk: " + b"a@" * 300_000 + b"\n\n",
        b"Content-Type: multipart/mixed; boundary=b\n\n" + b"--b\nContent-Type: message/rfc822\n\n" * 3000,
        b"Content-Type: multipart/mixed; boundary=" + b'"' * 5000 + b"\n\n--\n",
        b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n!!!not base64===\n",
        b"From: MAILER-DAEMON@x\n\n" + b"<" * 200_000 + b"@" * 200_000,
        bytes(range(256)) * 4000,
        b'Content-Type: multipart/mixed; boundary="b"\n\n' + b"--b\n\n" * 100_000,
        b"From: MAILER-DAEMON@x.example\nSubject: Undelivered\n\n" + b"a" * 900_000 + b"@example.com\n",
        b"From: MAILER-DAEMON@x.example\nSubject: Undelivered\n\nx@" + (b"a" * 70 + b".") * 10_000,
        b"Subject: x\n" + b" y\n" * 400_000 + b"\n\nbody",
        b"Content-Type: message/rfc822\n\n" * 50_000,
    ],
    ids=[
        "empty",
        "nuls",
        "huge-header",
        "address-soup",
        "deep-nesting",
        "bad-boundary",
        "bad-base64",
        "bracket-soup",
        "binary",
        "100k-parts",
        "long-local-part",
        "long-domain",
        "folded-header",
        "rfc822-nesting",
    ],
)
def test_hostile_input_never_raises(raw: bytes) -> None:
    parsed = _parse_bounded(raw)
    assert parsed.message_type in set(MessageType)


def test_ten_megabyte_body_is_bounded() -> None:
    head = (FIXTURES / "exim.eml").read_bytes()
    raw = head + (b"filler line of the returned message body\n" * 260_000)
    assert len(raw) > 10_000_000
    parsed = _parse_bounded(raw)
    assert [f.recipient for f in parsed.failures] == ["dave@example.com"]


def _seeds() -> list[bytes]:
    seeds = [p.read_bytes() for p in FIXTURE_FILES]
    if CORPUS.is_dir():
        seeds += [p.read_bytes() for p in sorted(CORPUS.glob("*.eml"))[::10]]
    return seeds


SEEDS = _seeds()


@st.composite
def mutated_bounce(draw: st.DrawFn) -> bytes:
    raw = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "cut", "dup", "insert", "delete"]))
        pos = draw(st.integers(0, max(len(raw) - 1, 0)))
        if op == "flip" and raw:
            raw[pos] = draw(st.integers(0, 255))
        elif op == "cut":
            del raw[pos:]
        elif op == "dup":
            raw[pos:pos] = raw[pos : pos + draw(st.integers(1, 4000))]
        elif op == "insert":
            raw[pos:pos] = draw(
                st.sampled_from(
                    [
                        b"\n--",
                        b"\r",
                        b"=?utf-8?b?",
                        b"Content-Type: multipart/mixed",
                        b"\x00\xff",
                        b"Final-Recipient: rfc822;",
                        b"\n\n",
                        b"<<<@@@",
                        b"=?utf-8?b?A?=",
                        b"Content-Transfer-Encoding: base64\n",
                    ]
                )
            )
        elif op == "delete":
            del raw[pos : pos + draw(st.integers(1, 200))]
    return bytes(raw)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4000))
def test_random_bytes_never_raise(raw: bytes) -> None:
    _parse_bounded(raw)


@settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(mutated_bounce())
def test_mutated_bounces_never_raise(raw: bytes) -> None:
    _parse_bounded(raw)


def test_long_prose_is_cut_at_a_line_end_not_inside_an_address() -> None:
    head = b"From: MAILER-DAEMON@x.example\nTo: a@b.example\nSubject: Undelivered Mail\n\n"
    parsed = parse_message(head + b"<u@d.example>: 550 5.1.1 user unknown\n" * 20_000)
    assert [f.recipient for f in parsed.failures] == ["u@d.example"]
