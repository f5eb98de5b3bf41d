"""`bounced check-config`: the sending side's settings are checked together, not only typed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def check(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "bounced.toml"
    path.write_text(text, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "bounced", "check-config", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[submission]\nenabled = true\n", "verp.secret"),
        (
            '[submission]\nenabled = true\n[verp]\nsecret = "0123456789abcdef-s3cret"\ndomain = "b.example"\n'
            '[smtp]\ndomains = ["a.example"]\n',
            "verp.domain",
        ),
    ],
)
def test_sending_settings_that_do_not_fit_are_refused(tmp_path: Path, text: str, key: str) -> None:
    result = check(tmp_path, text)
    assert result.returncode == 2
    assert f"config error: {key}:" in result.stderr


def test_sending_settings_that_fit_pass(tmp_path: Path) -> None:
    result = check(
        tmp_path,
        '[submission]\nenabled = true\n[verp]\nsecret = "0123456789abcdef-s3cret"\ndomain = "b.example"\n'
        '[smtp]\ndomains = ["b.example"]\n',
    )
    assert result.returncode == 0, result.stderr
    assert "config ok" in result.stdout
