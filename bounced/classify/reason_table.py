"""The reason table: ordered message patterns per reason, as data.

Read by `bounced.classify.reasons`. Sections `[reason]` (or `[reason generic]`) list one
regular-expression fragment per line, matched against the normalised diagnostic (lower
case, single spaces). The first section that matches decides, so specific phrases come
before vague ones; a reason may have several sections (specific early, vague late).
`generic` marks vague phrases ("try again", "temporary failure") that a status code beats;
`fixed` marks the fixed texts of one MTA's documented error table (Sisimai's Lhost modules
set these reasons directly), which the SMTP-stage reading of "user unknown" never overrules.
Provenance (`bounced.classify.provenance`): a fragment line may end in two spaces, `@` and a
source tag (`  @doc:sisimai-reason`, `  @doc:rfc3463`, `  @doc:postfix` ...); a section
header may carry one for all its fragments. Untagged fragments were learnt from mail: the
accuracy benchmark's leave-one-family-out run treats them so.
Fragments must not nest quantifiers, so matching stays linear in the (capped) text.
Phrases follow what real servers say, grouped by meaning the way Sisimai's
lib/Sisimai/Reason/*.pm modules group them; comments start with "# ".
The text lives in three modules read in order: `reason_phrases_specific` (greylisting,
provider and MTA phrases), `reason_phrases_recipient`, `reason_phrases_sender`.
"""

from __future__ import annotations

from bounced.classify.reason_phrases_recipient import RECIPIENT_PHRASES
from bounced.classify.reason_phrases_sender import SENDER_PHRASES
from bounced.classify.reason_phrases_specific import SPECIFIC_PHRASES
from bounced.model import Reason

__all__ = ["FIXED_SECTIONS", "FRAGMENT_SOURCES", "REASON_TABLE", "parse_sources", "parse_table"]


_SOURCE_MARK = "  @"


def _lines(text: str) -> list[tuple[str, str]]:
    """(line without its source tag, tag or "") for every table line that is not blank or a comment."""
    out = []
    for raw in text.splitlines():
        body, _, tag = raw.strip().partition(_SOURCE_MARK)
        body = body.strip()
        if body and not body.startswith("# "):
            out.append((body, tag.strip()))
    return out


def parse_table(text: str) -> tuple[tuple[Reason, bool, tuple[str, ...]], ...]:
    """Sections of `text` as (reason, generic, fragments), in order."""
    entries: list[tuple[Reason, bool, list[str]]] = []
    for line, _ in _lines(text):
        if line.startswith("[") and line.endswith("]"):
            name, _, flag = line[1:-1].partition(" ")
            entries.append((Reason(name), flag == "generic", []))
        else:
            entries[-1][2].append(line)
    return tuple((reason, generic, tuple(fragments)) for reason, generic, fragments in entries)


def parse_sources(text: str) -> dict[tuple[int, str], str]:
    """{(section index, fragment): source tag} for the tagged fragments (a section's tag
    stands for its untagged fragments)."""
    sources: dict[tuple[int, str], str] = {}
    section, section_tag = -1, ""
    for line, tag in _lines(text):
        if line.startswith("[") and line.endswith("]"):
            section, section_tag = section + 1, tag
        elif tag or section_tag:
            sources[(section, line)] = tag or section_tag
    return sources


_TEXT = SPECIFIC_PHRASES + "\n" + RECIPIENT_PHRASES + "\n" + SENDER_PHRASES
REASON_TABLE: tuple[tuple[Reason, bool, tuple[str, ...]], ...] = parse_table(_TEXT)
FRAGMENT_SOURCES: dict[tuple[int, str], str] = parse_sources(_TEXT)
# Indices (into REASON_TABLE) of the `[reason fixed]` sections.
FIXED_SECTIONS: frozenset[int] = frozenset(
    i
    for i, line in enumerate(line for line, _ in _lines(_TEXT) if line.startswith("[") and line.endswith("]"))
    if line[1:-1].partition(" ")[2] == "fixed"
)
