"""What every command shares (bounced.cli.main): --version, a closed pipe, an unwritable
--output, counts below their minimum. Each runs the real command in a subprocess."""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import bounced
from bounced.cli import build_parser, main
from bounced.config.storage import StorageConfig
from bounced.store import open_store

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def bounced_cmd(*args: str, **popen: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "BOUNCED_CONFIG"}
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "bounced", *args],
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
        check=False,
        **popen,
    )


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli")
    db = folder / "b.sqlite3"

    async def populate() -> None:
        store = await open_store(StorageConfig(path=str(db)))
        try:
            for i in range(3000):
                await store.add_suppression(f"user{i}@example.com", "test", "admin:test", T0, None)
        finally:
            await store.close()

    asyncio.run(populate())
    path = folder / "bounced.toml"
    path.write_text(f'[storage]\npath = "{db}"\n', encoding="utf-8")
    return path


def test_version_is_the_installed_distribution() -> None:
    result = bounced_cmd("--version", capture_output=True)
    assert result.returncode == 0
    assert result.stdout.strip() == f"bounced {importlib.metadata.version('bounced')}"
    assert bounced.__version__ == importlib.metadata.version("bounced")


COMMANDS_WITH_OUTPUT = [
    "--version",
    "suppression list",
    "suppression list --json",
    "suppression show user1@example.com",
    "suppression audit",
    "profile show user1@example.com",
    "queue list",
    "undeliveries list",
    "intake stats",
    "report --from 2026-01-01 --to 2026-04-01",
    "report --from 2026-01-01 --to 2026-04-01 --format json",
    "report --from 2026-01-01 --to 2026-04-01 --format csv",
    "check-config",
]


@pytest.mark.parametrize("command", COMMANDS_WITH_OUTPUT)
def test_a_closed_pipe_ends_quietly(config_file: Path, command: str) -> None:
    """`bounced ... | head`: the reader went away before (or while) bounced wrote."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # every write now fails with EPIPE, as after `head` exits
    try:
        result = bounced_cmd(
            *command.split(), "--config", str(config_file), stdout=write_end, stderr=subprocess.PIPE
        )
    finally:
        os.close(write_end)
    assert "Traceback" not in result.stderr and "Broken" not in result.stderr, result.stderr
    assert result.returncode == 0


def test_suppression_list_into_head(config_file: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "BOUNCED_CONFIG"}
    command = f"{sys.executable} -m bounced suppression list --json --config {config_file}"
    shell = f"set -o pipefail; {command} | head -3"
    result = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, env=env, timeout=60)
    assert len(result.stdout.splitlines()) == 3
    assert result.stderr == "" and result.returncode == 0


def _parsers(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, (*path, name))


# Arguments that make each command with an --output run; a new command with --output must
# be added here (the test below fails until it is).
OUTPUT_RUNS: dict[tuple[str, ...], list[list[str]]] = {
    ("report",): [
        ["--from", "2026-01-01", "--to", "2026-04-01", "--format", fmt]
        for fmt in ("table", "csv", "xlsx", "json")
    ],
    ("suppression", "export"): [["--format", fmt] for fmt in ("csv", "jsonl")],
}


def test_every_output_option_is_covered() -> None:
    with_output = {
        path
        for path, parser in _parsers(build_parser())
        if any("--output" in a.option_strings for a in parser._actions)
    }
    assert with_output == set(OUTPUT_RUNS)


@pytest.mark.parametrize(
    ("path", "args"), [(path, args) for path, runs in OUTPUT_RUNS.items() for args in runs]
)
@pytest.mark.parametrize("target", ["/nonexistent/dir/out.file", "{tmp}", "/proc/version/out.file"])
def test_an_unwritable_output_is_one_line_and_exit_1(
    config_file: Path, tmp_path: Path, path: tuple[str, ...], args: list[str], target: str
) -> None:
    output = target.format(tmp=tmp_path)  # a directory, a missing one, a file as directory
    result = bounced_cmd(*path, *args, "--output", output, "--config", str(config_file), capture_output=True)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"bounced: cannot write {output}: "), result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    "argv",
    [
        ["suppression", "list", "--limit", "-1"],
        ["suppression", "list", "--limit", "0"],
        ["suppression", "list", "--offset", "-1"],
        ["profile", "show", "user1@example.com", "--events", "-1"],
        ["queue", "list", "--limit", "-5"],
        ["undeliveries", "list", "--limit", "-1"],
    ],
)
def test_counts_below_their_minimum_are_refused(
    config_file: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as refused:
        main([*argv, "--config", str(config_file)])
    assert refused.value.code == 2
    assert "expected an integer >=" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("address", "accepted"),
    [
        ("a@b", False),
        ("a@b.", False),
        ("a b@example.com", False),
        ("a@@example.com", False),
        ("@example.com", False),
        ("a@-x.example", False),
        ("a@[300.1.1.1]", False),
        ("a@example.com", True),
        ("<First.Last+tag@Example.COM>", True),
        ("a..b@docomo.ne.jp", True),
        ('"odd person"@example.com', False),  # a space: refused even quoted (never in a bounce)
        ('"odd@person"@example.com', True),
        ("user@[192.0.2.1]", True),
        ("user@[IPv6:2001:db8::1]", True),
        ("Jörg@bücher.example", True),
        ("user@xn--bcher-kva.example", True),
    ],
)
def test_address_check(
    config_file: Path, address: str, accepted: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["suppression", "show", address, "--config", str(config_file)])
    out, err = capsys.readouterr()
    if accepted:
        assert code == 1 and "not suppressed" in out, err
    else:
        assert code == 2 and "is not an email address" in err
