"""systemd/bounced.service passes `systemd-analyze verify` and says what the daemon needs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "systemd" / "bounced.service"


def settings() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_unit_declares_notify_user_capabilities_and_hardening() -> None:
    s = settings()
    assert s["Type"] == ["notify"] and s["NotifyAccess"] == ["main"]
    assert s["ExecStart"] == ["/opt/bounced/venv/bin/bounced serve"]
    assert s["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert s["Environment"][0] == "BOUNCED_CONFIG=/etc/bounced/bounced.toml"
    assert s["StateDirectory"] == ["bounced"] and s["WorkingDirectory"] == ["/var/lib/bounced"]
    assert s["User"] == ["bounced"]
    assert s["AmbientCapabilities"] == s["CapabilityBoundingSet"] == ["CAP_NET_BIND_SERVICE"]
    for key in ("NoNewPrivileges", "PrivateTmp", "PrivateDevices", "ProtectKernelTunables",
                "ProtectControlGroups", "LockPersonality", "ProtectHome"):  # fmt: skip
        assert s[key] == ["yes"], key
    assert s["ProtectSystem"] == ["strict"]
    assert s["RestrictAddressFamilies"] == ["AF_INET AF_INET6 AF_UNIX"]
    filters = s["SystemCallFilter"]
    assert filters[0] == "@system-service"
    # @resources is denied, but the analysis workers must be able to lower their priority.
    denied = next(i for i, f in enumerate(filters) if f.startswith("~") and "@resources" in f)
    assert "setpriority" in filters[denied + 1 :]
    assert s["Restart"] == ["on-failure"] and "TimeoutStopSec" in s


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not installed (apt-get install systemd)")
    # The installed paths do not exist here: point them at this checkout's venv.
    bounced = Path(sys.executable).with_name("bounced")
    if not bounced.exists():
        pytest.skip(f"{bounced} missing: install bounced into the venv (pip install -e .)")
    unit = tmp_path / "bounced.service"
    unit.write_text(UNIT.read_text().replace("/opt/bounced/venv/bin/bounced", str(bounced)))
    result = subprocess.run(
        [analyze, "verify", "--man=no", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    # Lines about other units on this machine are not ours to judge.
    ours = [ln for ln in result.stderr.splitlines() if "bounced.service" in ln]
    assert result.returncode == 0 and not ours, result.stderr
