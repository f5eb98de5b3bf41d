"""No parser or classifier rule may name a file of the accuracy corpus.

Rules are code: a rule that names a corpus file (or quotes one of its recipient addresses)
is tuned to that file, and the family-averaged figures of `benchmarks/accuracy.py` would no
longer measure what the parser does on mail it has never seen.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import CORPUS

REPO = Path(__file__).resolve().parents[2]
RULE_DIRS = (REPO / "bounced" / "parse", REPO / "bounced" / "classify")
# Recipients too generic to be evidence of tuning (they appear in RFC examples and docs),
# and Sisimai's placeholder for a withheld complaint recipient, which the parser shares on
# purpose (bounced.parse.address.REDACTED_RECIPIENT).
_GENERIC = {
    "user@example.com",
    "postmaster@example.com",
    "undisclosed-recipient-in-headers@libsisimai.org.invalid",
}
_FILE_NAME_RE = re.compile(
    r"(?:lhost|rhost|arf|rfc3464|rfc3834)-[a-z0-9]+(?:-\d+)?\.eml|(?:lhost|rhost)-[a-z0-9]+-\d{2}\b"
)


def _rule_sources() -> dict[str, str]:
    return {
        str(p.relative_to(REPO)): p.read_text(encoding="utf-8")
        for d in RULE_DIRS
        for p in sorted(d.rglob("*.py"))
    }


def test_rule_sources_name_no_corpus_file() -> None:
    found = [
        (name, m.group(0)) for name, text in _rule_sources().items() for m in _FILE_NAME_RE.finditer(text)
    ]
    assert found == [], f"rules naming corpus files: {found}"


def test_rule_sources_quote_no_corpus_recipient() -> None:
    if not (CORPUS / "expected.jsonl").is_file():
        pytest.skip(f"bounce corpus not found at {CORPUS} (shared/corpus is absent)")
    import json

    recipients = {
        json.loads(line)["recipient"].lower()
        for line in (CORPUS / "expected.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    } - _GENERIC
    sources = {name: text.lower() for name, text in _rule_sources().items()}
    found = sorted((name, r) for name, text in sources.items() for r in recipients if r in text)
    assert found == [], f"rules quoting corpus recipients: {found}"


def test_the_file_name_check_can_fail() -> None:
    assert _FILE_NAME_RE.search("# tuned for lhost-exim-01") is not None
    assert _FILE_NAME_RE.search("see emails/rfc3464-35.eml") is not None
