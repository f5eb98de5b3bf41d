"""`suppression show --why`, `policy simulate` and the conservative preset, end to end:
bounces over SMTP to the return-path listener, then the real CLI on the database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bounced.model import ProfileStatus
from tests.apply.bounce_messages import dsn
from tests.harness import running_daemon, send_mail
from tests.policy.helpers import VERP_DOMAIN, example_config, run_cli

BOUNCES = {
    "gone@dest.example": ("5.1.1", "550 5.1.1 <gone@dest.example>: user unknown"),
    "closed@dest.example": (
        "5.2.1",
        "550 5.2.1 <closed@dest.example>: This account has been disabled or discontinued",
    ),
    "broken@dest.example": (
        "5.3.0",
        "554 5.3.0 <broken@dest.example>: mailer error: local delivery program failed",
    ),
}


async def _receive(config_overrides: dict[str, dict[str, object]], tmp_path: Path) -> Path:
    config = example_config(tmp_path, **config_overrides)
    async with running_daemon(config) as d:
        for n, (rcpt, (status, text)) in enumerate(BOUNCES.items()):
            await send_mail(
                d.smtp_port, "", [f"b@{VERP_DOMAIN}"], dsn(rcpt, status, text, bounce_id=f"<w{n}@mx>")
            )
        await d.drained()
    return Path(config.storage.path)


def _toml(path: Path, db: Path, extra: str = "") -> Path:
    path.write_text(
        f'[storage]\npath = "{db}"\n[verp]\nunsigned_bounces = "suppress"\n{extra}', encoding="utf-8"
    )
    return path


async def test_why_shows_event_diagnostic_rule_signature_and_raw_message(tmp_path: Path) -> None:
    db = await _receive({"verp": {"unsigned_bounces": "suppress"}}, tmp_path)
    toml = _toml(tmp_path / "now.toml", db)
    shown = run_cli(toml, "suppression", "show", "GONE@dest.example", "--why", "--json")
    assert shown.returncode == 0, shown.stderr
    why = json.loads(shown.stdout)
    assert why["suppressed"] and why["entry"]["reason"] == "userunknown"
    [event] = why["events"]
    assert event["decided"] and event["id"] == why["entry"]["bounce_event_id"]
    assert event["diagnostic"] == "550 5.1.1 <gone@dest.example>: user unknown"
    assert event["rule"] == "default:5xx" and event["signed"] is False
    assert "Final-Recipient: rfc822; gone@dest.example" in event["raw"]
    assert [a["action"] for a in why["audit"]] == ["suppression.add"]
    text = run_cli(toml, "suppression", "show", "gone@dest.example", "--why")
    assert text.returncode == 0
    assert "rule: default:5xx" in text.stdout and "UNSIGNED" in text.stdout
    assert "| Diagnostic-Code: smtp; 550 5.1.1 <gone@dest.example>: user unknown" in text.stdout
    missing = run_cli(toml, "suppression", "show", "nobody@dest.example", "--why")
    assert missing.returncode == 1 and "not suppressed" in missing.stdout


async def test_simulate_the_conservative_preset_changes_nothing(tmp_path: Path) -> None:
    db = await _receive({"verp": {"unsigned_bounces": "suppress"}}, tmp_path)
    current = _toml(tmp_path / "now.toml", db)
    proposed = _toml(tmp_path / "new.toml", db, '[classify]\npreset = "conservative"\n')
    today = datetime.now(UTC).date()
    period = [
        "--from",
        (today - timedelta(days=1)).isoformat(),
        "--to",
        (today + timedelta(days=1)).isoformat(),
    ]
    before = run_cli(current, "suppression", "list", "--json").stdout
    result = run_cli(proposed, "policy", "simulate", "--current", str(current), *period, "--json")
    assert result.returncode == 0, result.stderr
    sim = json.loads(result.stdout)
    assert sim["events"] == 3 and sim["added"] == []
    assert [(r["address"], r["reason"]) for r in sim["removed"]] == [
        ("broken@dest.example", "mailererror"),
        ("closed@dest.example", "suspend"),
    ]
    assert sim["removed_by_reason"] == {"mailererror": 1, "suspend": 1}
    assert run_cli(current, "suppression", "list", "--json").stdout == before  # nothing changed
    # the other way round: what the default would add to a list kept under the preset
    reverse = run_cli(current, "policy", "simulate", "--current", str(proposed), *period)
    assert reverse.returncode == 0 and "would be added: 0" in reverse.stdout  # all three are on the list


async def test_conservative_preset_counts_but_does_not_suppress_other_hard_reasons(tmp_path: Path) -> None:
    config = example_config(
        tmp_path, verp={"unsigned_bounces": "suppress"}, classify={"preset": "conservative"}
    )
    async with running_daemon(config) as d:
        for n, (rcpt, (status, text)) in enumerate(BOUNCES.items()):
            await send_mail(
                d.smtp_port, "", [f"b@{VERP_DOMAIN}"], dsn(rcpt, status, text, bounce_id=f"<c{n}@mx>")
            )
        await d.drained()
        assert await d.store.suppressed_among(BOUNCES) == {"gone@dest.example"}
        for rcpt in ("closed@dest.example", "broken@dest.example"):
            profile = await d.store.get_profile(rcpt)
            assert profile is not None and profile.hard_bounce_count == 1  # counted
            assert profile.status is ProfileStatus.ACTIVE  # not suppressed
