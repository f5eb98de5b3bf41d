"""docs/signing.md: the test vectors, the reference snippet, verification and `profile show`."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from bounced.config import VerpConfig, parse_config
from bounced.errors import ConfigError, VerpError
from bounced.verp import parse_verp_address, sign_return_path, verify_return_path
from tests.harness import make_config, running_daemon, send_mail

DOC = Path(__file__).parents[2] / "docs" / "signing.md"
HARD = (Path(__file__).parents[1] / "daemon" / "fixtures" / "hard_userunknown.eml").read_bytes()
ROW = re.compile(
    r"^\| `([^`]+)` \| `([^`]+)` \| `([^`]+)` \| (\S+) \| (?:`([^`]+)`|\(none\)) \| `([^`]+)` \|$"
)


def vectors() -> list[tuple[str, ...]]:
    rows = [m.groups() for line in DOC.read_text().splitlines() if (m := ROW.match(line))]
    assert len(rows) >= 4, "the test vector table of docs/signing.md was not found"
    return rows


def reference_snippet() -> dict[str, Any]:
    text = DOC.read_text()
    code = text.split("## Reference implementation", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(compile(code, "docs/signing.md", "exec"), namespace)  # the documented snippet, as printed
    return namespace


@pytest.mark.parametrize("row", vectors(), ids=lambda r: r[0])
def test_vectors_match_the_implementation_and_the_reference_snippet(row: tuple[str, ...]) -> None:
    recipient, key_id, key, sent, mailing, expected = row
    day = date.fromisoformat(sent)
    ours = sign_return_path(
        recipient, key_id=key_id, key=key, domain="bounces.example.com", sent=day, mailing_id=mailing
    )
    assert ours == expected
    assert reference_snippet()["return_path"](recipient, key_id, key, day, mailing or "") == expected
    assert len(expected.partition("@")[0]) <= 64
    verp = VerpConfig(domain="bounces.example.com", keys={key_id: key})
    for form in (expected, expected.upper(), expected.lower()):  # MTAs that change case
        token = verify_return_path(form, recipient, verp, day + timedelta(days=3))
        assert token is not None and token.mailing_id == mailing and token.sent == day


def test_verification_refuses_other_recipients_keys_and_old_or_future_tokens() -> None:
    verp = VerpConfig(domain="bounces.example.com", keys={"k1": "k1-secret-0123456789abcdef"})
    day = date(2026, 12, 2)
    rp = sign_return_path("a@example.org", key_id="k1", key="k1-secret-0123456789abcdef",
                          domain="bounces.example.com", sent=day)  # fmt: skip
    with pytest.raises(VerpError, match="does not verify"):
        verify_return_path(rp, "b@example.org", verp, day)
    with pytest.raises(VerpError, match="older than"):
        verify_return_path(rp, "a@example.org", verp, day + timedelta(days=91))
    with pytest.raises(VerpError, match="future"):
        verify_return_path(rp, "a@example.org", verp, day - timedelta(days=2))
    with pytest.raises(VerpError, match="unknown key"):
        verify_return_path(
            rp, "a@example.org", VerpConfig(domain="bounces.example.com", keys={"k9": "x" * 16}), day
        )
    with pytest.raises(VerpError, match="malformed"):
        verify_return_path("b+1k1-zz@bounces.example.com", "a@example.org", verp, day)
    assert verify_return_path("b+1k1-x@other.example", "a@example.org", verp, day) is None
    # The delivery-bound parser leaves stateless tokens alone.
    assert parse_verp_address(rp, verp) is None
    with pytest.raises(VerpError, match="over 64"):
        sign_return_path("a@example.org", key_id="k1", key="k1-secret-0123456789abcdef",
                         domain="d", sent=day, mailing_id="m" * 20, prefix="bounce-return-path")  # fmt: skip


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[verp]\nkeys = { "K1" = "0123456789abcdef" }', "verp.keys.K1"),
        ('[verp]\nkeys = { k1 = "short" }', "verp.keys.k1"),
        ('[verp]\nkeys = { k1 = "0123456789abcdef", k2 = "0123456789abcdef" }', "verp.signing_key"),
        ('[verp]\nsigning_key = "k3"\nkeys = { k1 = "0123456789abcdef" }', "verp.signing_key"),
        ('[[webhooks]]\nurl = "ftp://x"\nsecret = "0123456789abcdef"', "webhooks[0].url"),
        ('[[webhooks]]\nurl = "http://x/"\nsecret = "s"', "webhooks[0].secret"),
        (
            '[[webhooks]]\nurl = "http://x/"\nsecret = "0123456789abcdef"\nevents = ["bounce"]',
            "webhooks[0].events[0]",
        ),
        ("[webhook_delivery]\nretry_for = 0", "webhook_delivery.retry_for"),
    ],
)
def test_bad_signing_and_webhook_settings_name_the_key(text: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    assert str(info.value).startswith(key)


def test_the_default_policy_follows_the_keys() -> None:
    assert VerpConfig().unsigned_policy == "suppress"
    assert VerpConfig(keys={"k1": "0123456789abcdef"}).unsigned_policy == "record"
    assert VerpConfig(secret="s").unsigned_policy == "record"
    assert (
        VerpConfig(keys={"k1": "0123456789abcdef"}, unsigned_bounces="suppress").unsigned_policy == "suppress"
    )


def bounced(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bounced", *args], capture_output=True, text=True, timeout=60
    )


async def test_profile_show_says_why_an_unsigned_hard_bounce_did_not_suppress(tmp_path: Path) -> None:
    keys = {"k1": "k1-secret-0123456789abcdef"}
    config = make_config(
        tmp_path,
        smtp={"domains": ["bounces.example.com"]},
        verp={"domain": "bounces.example.com", "keys": keys},
    )
    async with running_daemon(config) as d:
        await send_mail(d.smtp_port, "", ["b@bounces.example.com"], HARD)
        await d.drained()
    toml = tmp_path / "bounced.toml"
    toml.write_text(
        f'[storage]\npath = "{config.storage.path}"\n'
        f'[verp]\ndomain = "bounces.example.com"\nkeys = {{ k1 = "{keys["k1"]}" }}\n'
    )
    shown = bounced("profile", "show", "jane.doe@example.org", "--config", str(toml))
    assert shown.returncode == 0, shown.stderr
    assert "suppressed: no" in shown.stdout
    assert "hard 1, not suppressed: bounce unsigned and [verp] requires signed bounces" in shown.stdout
    sign = bounced("verp", "sign", "--recipient", "jane.doe@example.org", "--mailing", "spring-26",
                   "--date", "2026-12-02", "--config", str(toml))  # fmt: skip
    assert sign.stdout.strip() == vectors()[0][5]


async def test_no_key_means_unsigned_bounces_suppress_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = make_config(tmp_path, smtp={"domains": ["bounces.example.com"]})
    async with running_daemon(config) as d:
        await send_mail(d.smtp_port, "", ["b@bounces.example.com"], HARD)
        await d.drained()
        assert await d.store.get_suppression("jane.doe@example.org") is not None
    warning = [r for r in caplog.records if "unsigned bounces suppress" in r.getMessage()]
    assert warning and "verp.keys" in str(warning[0].__dict__.get("kv"))


def test_check_config_warns_while_unsigned_bounces_suppress(tmp_path: Path) -> None:
    plain = tmp_path / "plain.toml"
    plain.write_text("")
    signed = tmp_path / "signed.toml"
    signed.write_text('[verp]\nkeys = { k1 = "0123456789abcdef" }\n')
    warned = bounced("check-config", "--config", str(plain))
    assert warned.returncode == 0 and "warning: [verp] unsigned bounces suppress" in warned.stdout
    quiet = bounced("check-config", "--config", str(signed))
    assert quiet.returncode == 0 and "warning" not in quiet.stdout
