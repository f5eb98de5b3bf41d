"""Rule names and provenance (bounced.classify.rules / provenance): the `doc:` tags that keep
a rule on in every leave-one-family-out fold must be true, so they are checked against the
installed Sisimai (Debian's libsisimai-perl) where it is present."""

from __future__ import annotations

import itertools
import re
import re._constants as sre
import re._parser as sre_parse
import subprocess
from pathlib import Path

from bounced.classify.classify import classify_failure, decide_reason_rule
from bounced.classify.provenance import LOGIC_SOURCES, PHRASE_SOURCES, is_documented, source_of
from bounced.classify.providers import PROVIDER_SOURCES
from bounced.classify.reason_table import REASON_TABLE
from bounced.classify.reasons import phrase_rule_id
from bounced.classify.rules import DEFAULT_RULES
from bounced.config import ClassifyConfig
from bounced.model import Failure, MessageType, Reason
from tests.classify.test_sisimai_phrases import _index_phrases, _reason_dir

# Reasons the newer Sisimai split out of older ones: Debian's 4.25 documents them under these.
_PARENTS = {
    "requireptr": ["blocked"],
    "badreputation": ["blocked"],
    "authfailure": ["securityerror", "policyviolation", "blocked", "rejected"],
    "failedstarttls": ["securityerror"],
    "notcompliantrfc": ["contenterror", "policyviolation", "spamdetected"],
    "speeding": ["toomanyconn", "blocked"],
}


def _samples(fragment: str) -> list[str]:
    """Texts the fragment matches: optional parts left out, every alternative (up to 16)."""

    def expand(tree: sre_parse.SubPattern) -> list[str]:
        outs = [""]
        for op, av in tree:
            if op is sre.LITERAL:
                choices = [chr(av)]
            elif op in (sre.NOT_LITERAL, sre.ANY, sre.CATEGORY):
                choices = ["x" if op is not sre.NOT_LITERAL or chr(av) != "x" else "y"]
            elif op is sre.IN:
                if any(o is sre.NEGATE for o, _ in av):
                    choices = ["x"]
                else:
                    choices = [
                        chr(a) if o is sre.LITERAL else chr(a[0]) if o is sre.RANGE else "1"
                        for o, a in av
                        if o in (sre.LITERAL, sre.RANGE, sre.CATEGORY)
                    ][:4] or ["x"]
            elif op is sre.BRANCH:
                choices = [s for branch in av[1] for s in expand(branch)]
            elif op is sre.SUBPATTERN:
                choices = expand(av[3])
            elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
                low, _, sub = av
                choices = [""] if low == 0 else [s * low for s in expand(sub)]
            else:  # anchors and look-arounds
                choices = [""]
            outs = [a + b for a, b in itertools.product(outs, choices)][:16]
        return outs

    return sorted({s.strip() for s in expand(sre_parse.parse(fragment)) if s.strip()})


def _sisimai_dir() -> Path:
    return _reason_dir().parent  # skips where Sisimai is not installed


def _sisimai_matches(queries: list[tuple[str, str]]) -> list[bool]:
    """Sisimai::Reason::<module>->match(text) for each (module, text), in one Perl run."""
    script = r"""
        my %m;
        for my $f (glob "$ARGV[0]/Reason/*.pm") { my ($n) = $f =~ m{/(\w+)\.pm$}; $m{lc $n} = $n; require $f }
        while (my $l = <STDIN>) { chomp $l; my ($mod, $t) = split /\t/, $l, 2;
            my $c = $m{$mod}; print(($c && "Sisimai::Reason::$c"->match(lc $t)) ? "1\n" : "0\n") }
    """
    out = subprocess.run(
        ["perl", "-e", script, str(_sisimai_dir())],
        input="".join(f"{mod}\t{text}\n" for mod, text in queries),
        capture_output=True,
        text=True,
        check=True,
    )
    return [line == "1" for line in out.stdout.splitlines()]


def _phrases_by_reason(root: Path) -> dict[str, list[str]]:
    phrases: dict[str, list[str]] = {}
    for reason, phrase in _index_phrases(root / "Reason"):
        phrases.setdefault(reason, []).append(phrase.lower())
    return phrases


def _unbracket(text: str) -> str:
    """`[ ]`, `[.]` ... of Perl regular expressions read as the characters they stand for."""
    for bracketed in ("[ ]", "[.]", "[-]", "[']", "[:]", "[/]", "[@]"):
        text = text.replace(bracketed, bracketed[1])
    return text


def _match_bodies(root: Path) -> dict[str, str]:
    """Each reason module's `match` (its phrase lists and regular expressions), lower-cased,
    comments dropped, `[ ]` / `[.]` ... read as the characters they stand for."""
    bodies: dict[str, str] = {}
    for path in sorted((root / "Reason").glob("*.pm")):
        body = re.search(r"sub match \{(.*?)\n\}", path.read_text(encoding="utf-8"), re.S)
        bodies[path.stem.lower()] = _unbracket(re.sub(r"#[^\n]*", "", body.group(1) if body else "").lower())
    return bodies


def _tagged() -> list[tuple[str, str, str]]:
    """(reason, fragment, tag) for every tagged fragment of the reason table."""
    return [
        (reason.value, fragment, PHRASE_SOURCES[phrase_rule_id(reason, fragment)])
        for reason, _, section in REASON_TABLE
        for fragment in section
        if phrase_rule_id(reason, fragment) in PHRASE_SOURCES
    ]


def test_reason_module_tags_are_sisimai_phrases() -> None:
    """`doc:sisimai-reason-X`: Sisimai's Reason/X.pm (or the module the newer Sisimai split
    the reason from) matches every sample of the fragment, or the fragment was cut from one
    of that module's own phrases or regular expressions."""
    root = _sisimai_dir()
    index = _phrases_by_reason(root)
    bodies = _match_bodies(root)
    cases = [(r, f, t.removeprefix("doc:sisimai-reason-")) for r, f, t in _tagged() if "-reason-" in t]
    assert len(cases) > 200
    queries = [(module, text) for _, fragment, module in cases for text in _samples(fragment)]
    answers = iter(_sisimai_matches(queries))
    wrong = []
    for reason, fragment, module in cases:
        matched = [next(answers) for _ in _samples(fragment)]
        assert module in (reason, *_PARENTS.get(reason, [])), (reason, fragment, module)
        if all(matched) or any(re.search(fragment, p) for p in index.get(module, [])):
            continue
        samples = _samples(fragment)
        if not all(len(text) >= 6 and text in bodies.get(module, "") for text in samples):
            wrong.append((reason, fragment, module))
    assert not wrong, wrong


_KEY = re.compile(r"'(\w+)'\s*=>|\"(\w+)\"\s*=>|(\w+)\s*=>\s*\[")


def _keyed(text: str, at: int, reasons: tuple[str, ...]) -> bool:
    """Whether the phrase at `at` sits under one of `reasons` in a Perl table: a key opening
    the list it is in (`'hostunknown' => [ ...`), or its value (`'phrase' => 'reason'`)."""
    value = re.match(r"[^\n]*?=>\s*'(\w+)'", text[at:])
    if value is not None and value.group(1) in reasons:
        return True
    keys = _KEY.findall(text[:at])
    return bool(keys) and next(k for k in keys[-1] if k) in reasons


def test_mta_module_tags_name_the_phrase_under_the_same_reason() -> None:
    """`doc:sisimai-lhost-Y` / `doc:sisimai-rhost-Y`: every sample of the fragment is in that
    module's message table, under the fragment's reason."""
    root = _sisimai_dir()
    wrong = []
    for reason, fragment, tag in _tagged():
        kind, _, name = tag.removeprefix("doc:sisimai-").partition("-")
        if kind not in ("lhost", "rhost"):
            continue
        files = {p.stem.lower(): p for p in (root / kind.capitalize()).glob("*.pm")}
        text = _unbracket(files[name].read_text(encoding="utf-8", errors="replace").lower())
        for sample in _samples(fragment):
            if not any(
                _keyed(text, at.start(), (reason, *_PARENTS.get(reason, [])))
                for at in re.finditer(re.escape(sample), text)
            ):
                wrong.append((reason, fragment, tag, sample))
    assert not wrong, wrong


def test_provider_sources_name_installed_modules() -> None:
    root = _sisimai_dir()
    for name, source in PROVIDER_SOURCES.items():
        if source.startswith("doc:sisimai-"):
            kind, _, module = source.removeprefix("doc:sisimai-").partition("-")
            assert any(p.stem.lower() == module for p in (root / kind.capitalize()).glob("*.pm")), name


def test_every_deciding_rule_has_a_name_and_a_known_source_kind() -> None:
    texts = [
        ("550 5.1.1 <a@b.example>: Recipient address rejected: User unknown", "phrase:"),
        ("552 5.2.2 Mailbox full", "status:5.2.2"),
        ("550 user unknown (in reply to end of data command)", "userunknown-as-filtered + phrase:"),
        ("550 LPN007_416 address unknown", "code:Orange / La Poste"),
        ("zzz", "fallback:onhold"),
    ]
    for text, want in texts:
        reason, rule = decide_reason_rule(Failure(recipient="a@b.example", reply_code=550, diagnostic=text))
        assert rule.startswith(want), (text, reason, rule)
        for part in rule.split(" + "):
            assert part.partition(":")[0] in (
                "phrase",
                "provider",
                "code",
                "status",
                "fallback",
                "stage",
            ) or (part in LOGIC_SOURCES)
    assert is_documented("status:5.1.1") and is_documented("stage:mail")
    assert source_of("phrase:userunknown:no such thing at all") == ""


def test_switching_a_rule_off_changes_the_decision_and_the_rule_named() -> None:
    failure = Failure(recipient="a@b.example", reply_code=550, diagnostic="550 sorry, mailbox is full")
    config = ClassifyConfig()
    on = classify_failure(failure, MessageType.DSN, config)
    assert on.reason is Reason.MAILBOXFULL and on.reason_rule is not None
    off = classify_failure(failure, MessageType.DSN, config, DEFAULT_RULES.without([on.reason_rule]))
    assert off.reason_rule != on.reason_rule
    assert DEFAULT_RULES.without([on.reason_rule]) is DEFAULT_RULES.without([on.reason_rule])  # cached
