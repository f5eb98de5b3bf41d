"""[classify] from TOML: overrides change the default decisions; bad values name their key."""

from __future__ import annotations

import pytest

from bounced.classify.classify import classify_failure
from bounced.config import parse_config
from bounced.errors import ConfigError
from bounced.model import Action, BounceKind, Failure, MessageType, Reason

TOML = """
[classify]
greylist_default_delay = 600

[[classify.overrides]]
name = "full mailboxes are dead mailboxes here"
reason = "mailboxfull"
kind = "hard"

[[classify.overrides]]
status = "5.7.*"
diagnostic = 'not authori[sz]ed'
kind = "blocked"
set_reason = "policyviolation"

[[classify.overrides]]
reply_code = "55*"
diagnostic = "mailbox unavailable"
kind = "soft"

[[classify.overrides]]
reply_code = "4*"
reason = "greylisted"
set_reason = "systemerror"

[[classify.overrides]]
reason = "mailboxfull"
kind = "blocked"
"""


def classify(config_text: str, diagnostic: str, status: str | None = None, code: int | None = None):
    config = parse_config(config_text)
    f = Failure(
        recipient="rcpt@example.net",
        action=Action.FAILED,
        status=status,
        reply_code=code,
        diagnostic=diagnostic,
    )
    return classify_failure(f, MessageType.DSN, config.classify)


def test_overrides_parse_into_typed_config() -> None:
    section = parse_config(TOML).classify
    assert section.greylist_default_delay == 600
    assert [o.name for o in section.overrides][:1] == ["full mailboxes are dead mailboxes here"]
    assert section.overrides[1].status == "5.7.*"
    assert section.provider_patterns is True


def test_reason_override_makes_mailboxfull_hard_and_first_match_wins() -> None:
    result = classify(TOML, "552 5.2.2 Mailbox full", "5.2.2", 552)
    # Rule 0 matches first; rule 4 (mailboxfull -> blocked) never runs.
    assert (result.kind, result.reason) == (BounceKind.HARD, Reason.MAILBOXFULL)
    assert result.rule == "override[0] full mailboxes are dead mailboxes here"


def test_status_glob_and_regex_set_kind_and_reason() -> None:
    result = classify(TOML, "550 5.7.1 Sender not authorised for this domain", "5.7.1", 550)
    assert (result.kind, result.reason, result.rule) == (
        BounceKind.BLOCKED,
        Reason.POLICYVIOLATION,
        "override[1]",
    )


def test_reply_code_glob_with_regex() -> None:
    result = classify(TOML, "553 Requested action not taken: mailbox unavailable", None, 553)
    # The override sets the kind only; the reason stays the default's (no stage, no
    # address status: a filter's answer, as Sisimai's Filtered.pm reads it).
    assert (result.kind, result.reason) == (BounceKind.SOFT, Reason.FILTERED)
    # Same text under a 4xx does not match "55*"; the default stands.
    default = classify(TOML, "450 Requested action not taken: mailbox unavailable", None, 450)
    assert default.rule == "default:4xx"


def test_reason_only_override_keeps_kind_and_greylist_default_delay() -> None:
    result = classify(TOML, "451 4.7.1 Greylisted, please try later", "4.7.1", 451)
    assert (result.kind, result.reason, result.rule) == (BounceKind.SOFT, Reason.SYSTEMERROR, "override[3]")
    plain = classify("[classify]\ngreylist_default_delay = 600\n", "451 4.7.1 Greylisted", "4.7.1", 451)
    assert (plain.reason, plain.retry_after) == (Reason.GREYLISTED, 600)


def test_unmatched_failures_keep_defaults() -> None:
    result = classify(TOML, "550 5.1.1 user unknown", "5.1.1", 550)
    assert (result.kind, result.reason, result.rule) == (BounceKind.HARD, Reason.USERUNKNOWN, "default:5xx")


def test_provider_patterns_can_be_switched_off() -> None:
    text = "550 : User unknown"
    on = classify("", text, "5.1.1", 550)
    off = classify("[classify]\nprovider_patterns = false\n", text, "5.1.1", 550)
    assert (on.reason, off.reason) == (Reason.FILTERED, Reason.USERUNKNOWN)
    assert on.kind == off.kind == BounceKind.HARD


@pytest.mark.parametrize(
    ("body", "key", "fragment"),
    [
        (
            'diagnostic = "unclosed [bracket"\nkind = "hard"',
            "classify.overrides[1].diagnostic",
            "regular expression",
        ),
        (
            'reason = "userunknown"\nkind = "permanent"',
            "classify.overrides[1].kind",
            "allowed: hard, soft, blocked",
        ),
        ('reason = "nosuchreason"\nkind = "hard"', "classify.overrides[1].reason", "allowed: userunknown"),
        (
            'reason = "userunknown"\nset_reason = "bogus"',
            "classify.overrides[1].set_reason",
            "unknown reason",
        ),
        ('status = "5.x.1"\nkind = "hard"', "classify.overrides[1].status", "5.7.*"),
        ('reply_code = "5500"\nkind = "hard"', "classify.overrides[1].reply_code", "55*"),
        ('reply_code = 550\nkind = "hard"', "classify.overrides[1].reply_code", "expected a string"),
        ('kind = "hard"', "classify.overrides[1]", "at least one of"),
        ('reason = "userunknown"', "classify.overrides[1]", "kind and/or set_reason"),
        (
            'reason = "userunknown"\nkind = "hard"\nmatch = "x"',
            "classify.overrides[1].match",
            "unknown setting",
        ),
    ],
)
def test_bad_override_names_the_key(body: str, key: str, fragment: str) -> None:
    text = (
        f'[[classify.overrides]]\nreason = "mailboxfull"\nkind = "hard"\n\n[[classify.overrides]]\n{body}\n'
    )
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    assert info.value.key == key
    assert fragment in str(info.value)


def test_negative_greylist_delay_is_rejected() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config("[classify]\ngreylist_default_delay = -5\n")
    assert info.value.key == "classify.greylist_default_delay"
