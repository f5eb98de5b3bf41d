"""The reason table against Sisimai's own phrase lists (its lib/Sisimai/Reason/*.pm `$index`
arrays), read from the installed Sisimai (Debian's libsisimai-perl), so a port that drifts
shows. Skips where Sisimai is not installed."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bounced.classify.classify import decide_reason
from bounced.model import Failure

# Phrases where we answer otherwise on purpose: the newer Sisimai (the corpus reference)
# moved the reason, or another Sisimai list holds the same words and is checked first.
_DIFFERENT = {
    ("exceedlimit", "message too large"),  # MesgTooBig.pm's words too
    ("mailboxfull", "exceeded storage allocation"),  # and SystemFull.pm's
    ("systemfull", "requested mail action aborted: exceeded storage allocation"),  # MailboxFull.pm first
    ("policyviolation", "dmarc policy"),  # the newer Sisimai: authfailure
    ("rejected", "your access to submit messages to this e-mail system has been rejected"),  # blocked
}
_STRING_RE = re.compile(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"")


def _reason_dir() -> Path:
    if shutil.which("perl") is None:
        pytest.skip("perl not installed: cannot locate Sisimai")
    found = subprocess.run(
        ["perl", "-MSisimai::Reason::Blocked", "-e", "print $INC{'Sisimai/Reason/Blocked.pm'}"],
        capture_output=True,
        text=True,
    )
    if found.returncode != 0:
        pytest.skip("Sisimai (libsisimai-perl) not installed")
    return Path(found.stdout).parent


def _index_phrases(directory: Path) -> list[tuple[str, str]]:
    phrases: list[tuple[str, str]] = []
    for path in sorted(directory.glob("*.pm")):
        body = re.search(r"sub match \{(.*?)\n\}", path.read_text(encoding="utf-8"), re.S)
        if body is None:
            continue
        for block in re.findall(r"state \$index\s*=\s*\[(.*?)\];", body.group(1), re.S):
            for single, double in _STRING_RE.findall(re.sub(r"#[^\n]*", "", block)):
                phrase = (single or double).replace("\\'", "'").strip(" ,\n")
                if len(phrase) > 3:
                    phrases.append((path.stem.lower(), phrase))
    return phrases


def test_reason_table_agrees_with_sisimai_index_phrases() -> None:
    phrases = [(r, p) for r, p in _index_phrases(_reason_dir()) if r not in ("vacation", "delivered")]
    assert len(phrases) > 200, "Sisimai's phrase lists were not found where expected"
    wrong = []
    for reason, phrase in phrases:
        got = decide_reason(Failure(recipient="a@b.example", reply_code=550, diagnostic=f"550 {phrase}"))
        if str(got) != reason and (reason, phrase.strip()) not in _DIFFERENT:
            wrong.append((reason, str(got), phrase))
    # A few phrases are too short to mean anything alone ("address rejected", "mx records for").
    assert len(wrong) <= 4, wrong
