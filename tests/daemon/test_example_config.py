"""config/bounced.toml: loads, matches the built-in defaults, and mentions every key."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from bounced.config import Config, load_config

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "bounced.toml"


def bounced(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bounced", *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_example_loads_and_equals_the_built_in_defaults() -> None:
    config = load_config(EXAMPLE)
    defaults = Config()
    for field in dataclasses.fields(Config):
        if field.name != "source":
            assert getattr(config, field.name) == getattr(defaults, field.name), field.name


def _keys(cls: Any, prefix: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for field in dataclasses.fields(cls):
        value = getattr(cls(), field.name) if field.name != "overrides" else None
        if dataclasses.is_dataclass(value):
            out += _keys(type(value), f"{prefix}.{field.name}")
        else:
            out.append((prefix, field.name))
    return out


def test_example_mentions_every_key_of_every_section() -> None:
    text = EXAMPLE.read_text()
    missing = []
    for section in dataclasses.fields(Config):
        if section.name == "source":
            continue
        if not dataclasses.is_dataclass(getattr(Config(), section.name)):  # an array of tables
            assert f"[[{section.name}]]" in text, section.name
            continue
        for table, key in _keys(type(getattr(Config(), section.name)), section.name):
            if f"[[{table}.{key}]]" in text:  # an array of tables, shown as a commented example
                continue
            if f"[{table}]" not in text or not any(
                line.lstrip("# ").startswith(f"{key} =") for line in text.splitlines()
            ):
                missing.append(f"{table}.{key}")
    assert not missing, f"config/bounced.toml does not document: {missing}"


def test_check_config_accepts_the_example() -> None:
    result = bounced("check-config", "--config", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert "config ok" in result.stdout


def test_check_config_names_the_key_of_a_bad_value(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(EXAMPLE.read_text().replace("max_recipients = 100", 'max_recipients = "lots"'))
    result = bounced("check-config", "--config", str(bad))
    assert result.returncode == 2
    assert "smtp.max_recipients" in result.stderr
    assert "expected an integer" in result.stderr


_KEY_LINE = re.compile(r"^#?\s?([a-z_]+) = ")
_HEADER = re.compile(r"^\[([a-z_.]+)\]\s*$")


def _section_keys() -> dict[str, set[str]]:
    keys: dict[str, set[str]] = {}
    for section in dataclasses.fields(Config):
        if section.name == "source" or not dataclasses.is_dataclass(getattr(Config(), section.name)):
            continue  # an array of tables ([[webhooks]]) is shown as a commented example
        for table, key in _keys(type(getattr(Config(), section.name)), section.name):
            keys.setdefault(table, set()).add(key)
    return keys


def test_every_key_has_a_comment_saying_what_it_does() -> None:
    """Each key line (set, or commented out for an unset default) has its own comment line
    right above it or at its end, or sits in a run of keys under a comment naming it."""
    known = _section_keys()
    lines = EXAMPLE.read_text().splitlines()
    section = ""
    undocumented = []

    def is_key(line: str) -> bool:
        match = _KEY_LINE.match(line)
        return match is not None and match.group(1) in known.get(section, set())

    for n, line in enumerate(lines):
        header = _HEADER.match(line)
        if header:
            section = header.group(1)
            continue
        match = _KEY_LINE.match(line)
        if match is None or not is_key(line):
            continue
        key = match.group(1)
        if not line.startswith("#") and "  # " in line:
            continue  # an end-of-line comment
        above = n - 1
        while above >= 0 and is_key(lines[above]):
            above -= 1
        block = []
        while above >= 0 and lines[above].startswith("#") and not is_key(lines[above]):
            block.append(lines[above])
            above -= 1
        grouped = n > 0 and is_key(lines[n - 1])
        text = " ".join(block)
        if not block or (grouped and not re.search(rf"\b{key}\b", text)):
            undocumented.append(f"[{section}] {key}")
    assert not undocumented, f"config/bounced.toml: keys without a comment of their own: {undocumented}"
