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


def test_every_problem_is_reported_in_one_run(tmp_path: Path) -> None:
    result = check(
        tmp_path,
        '[smtp]\nlisten = "127.0.0.1:99999"\nmax_recipients = "lots"\nbogus = 1\n'
        '[storage]\npath = ""\n'
        "[pools]\ndefault = [1]\n"
        '[verp]\nsecret = "short"\n'
        "[nonsense]\nx = 1\n",
    )
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert all(line.startswith("bounced: config error: ") for line in lines), lines
    keys = {line.removeprefix("bounced: config error: ").partition(":")[0] for line in lines}
    # smtp.listen is checked once the section's types are right (a section validates whole).
    assert keys == {
        "smtp.max_recipients",
        "smtp.bogus",
        "storage.path",
        "pools.default[0]",
        "verp.secret",
        "nonsense",
    }, lines


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[smtp]\nlisten = "127.0.0.1:99999"\n', "smtp.listen: port 99999 out of range (expected 0-65535)"),
        ('[smtp]\nlisten = "localhost"\n', 'smtp.listen: expected "HOST:PORT"'),
        ('[submission]\nlisten = "127.0.0.1:70000"\n', "submission.listen: port 70000 out of range"),
        ("[pools]\ndefault = [1]\n", "pools.default[0]: expected a string, got 1"),
        ('[smtp]\ndomains = "x.example"\n', "smtp.domains: expected a list of strings, got 'x.example'"),
        ('[verp]\nsecret = "s"\n', "verp.secret: expected at least 16 bytes"),
        ('[verp]\nsecret = "0123456789abcde"\n', "verp.secret: expected at least 16 bytes"),
        ('[storage]\npath = ""\n', "storage.path: expected the path of a database file, got ''"),
        ('[storage]\npath = ":memory:"\n', "storage.path: expected the path of a database file, got ':mem"),
        ('source = "elsewhere.toml"\n', "source: unknown setting"),
    ],
)
def test_messages_name_the_key_and_say_what_is_wrong(tmp_path: Path, text: str, expected: str) -> None:
    result = check(tmp_path, text)
    assert result.returncode == 2
    assert f"bounced: config error: {expected}" in result.stderr, result.stderr


def test_unknown_key_hint_lists_settings_only(tmp_path: Path) -> None:
    result = check(tmp_path, "typo = 1\n")
    assert result.returncode == 2
    hint = result.stderr.partition("known here: ")[2]
    assert "smtp" in hint and "storage" in hint
    assert "source" not in hint


def test_a_secret_of_16_bytes_and_short_previous_secrets_pass(tmp_path: Path) -> None:
    # A short key in use before the minimum existed must still be rotatable into previous_secrets.
    result = check(tmp_path, '[verp]\nsecret = "0123456789abcdef"\nprevious_secrets = ["old"]\n')
    assert result.returncode == 0, result.stderr


def test_every_cross_field_problem_of_a_section_is_reported_once(tmp_path: Path) -> None:
    result = check(
        tmp_path,
        '[smtp]\nlisten = "127.0.0.1:2525"\ntls_cert = "/x.pem"\nmax_connections = 0\nacceptors = 100\n'
        'idle_timeout = 0\ndomains = ["a b", "ok.example", "x@y"]\n'
        '[relay]\nport = 0\ntimeout = 0\nusername = "u"\n'
        '[submission]\nlisten = "nowhere"\nmax_message_size = 0\n'
        '[verp]\nsecret = "short"\ndomain = "a@b"\n[verp.keys]\n"BAD!" = "0123456789abcdef"\nk1 = "tiny"\n'
        "[resend.default]\nfactor = 0.5\njitter = 2\n"
        "[webhook_delivery]\nretry_initial = 0\nconcurrency = 0\n",
    )
    assert result.returncode == 2, result.stderr
    lines = [line.removeprefix("bounced: config error: ") for line in result.stderr.splitlines()]
    expected = [
        "smtp.tls_cert: tls_cert and tls_key go together",
        "smtp.max_connections: expected a positive integer",
        "smtp.acceptors: expected 0 (in the daemon) to 64 processes, got 100",
        "smtp.idle_timeout: expected a positive number of seconds",
        'smtp.domains[0]: expected a domain name, got "a b"',
        'smtp.domains[2]: expected a domain name, got "x@y"',
        "relay.port: expected a port 1-65535, got 0",
        "relay.password: username and password go together",
        "relay.timeout: expected seconds > 0, got 0.0",
        "submission.listen: expected \"HOST:PORT\", got 'nowhere'",
        "submission.max_message_size: expected a positive integer",
        "verp.secret: expected at least 16 bytes (e.g. `openssl rand -hex 32`), got 5",
        "verp.domain: expected a domain name, got 'a@b'",
        "verp.keys.BAD!: expected a key id of 1-8 characters a-z 0-9",
        "verp.keys.k1: expected a secret of at least 16 characters",
        "verp.signing_key: several verp.keys: name the one to sign with",
        "resend.default.factor: expected a number >= 1, got 0.5",
        "resend.default.jitter: expected a fraction in [0, 1), got 2.0",
        "webhook_delivery.retry_initial: expected seconds > 0, got 0.0",
        "webhook_delivery.concurrency: expected a positive integer",
    ]
    assert sorted(lines) == sorted(expected), "\n".join(lines)


@pytest.mark.parametrize(
    ("storage", "key"),
    [
        ('backend = "mysql"', "storage.backend"),
        ('backend = "postgresql"\ndsn = "host=db1 user=bounced"', "storage.dsn"),
        ('backend = "postgresql"\npool_size = 0', "storage.pool_size"),
        ('backend = "postgresql"\nnode = "mx 1"', "storage.node"),
    ],
)
def test_storage_backend_keys_are_checked(tmp_path: Path, storage: str, key: str) -> None:
    result = check(tmp_path, f'[storage]\npath = "{tmp_path / "db.sqlite3"}"\n{storage}\n')
    assert result.returncode == 2
    assert f"config error: {key}: expected" in result.stderr


def test_postgresql_server_is_reached_or_the_problem_named(tmp_path: Path, pg_dsn: str) -> None:
    from tests.conftest import free_port

    spool = tmp_path / "spool.sqlite3"
    ok = check(tmp_path, f'[storage]\nbackend = "postgresql"\ndsn = "{pg_dsn}"\npath = "{spool}"\n')
    assert ok.returncode == 0, ok.stderr
    missing = pg_dsn.rpartition("/")[0] + "/no_such_database_here"  # a wrong setting: exit 1
    result = check(tmp_path, f'[storage]\nbackend = "postgresql"\ndsn = "{missing}"\npath = "{spool}"\n')
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(
        "bounced: cannot start with this config here: storage.dsn: cannot connect to PostgreSQL"
    )
    # A server that does not answer now is said, but does not keep a node from starting:
    # it takes bounces into its local spool meanwhile (docs/nodes.md).
    down = f"postgresql://postgres@127.0.0.1:{free_port()}/bounced"
    result = check(tmp_path, f'[storage]\nbackend = "postgresql"\ndsn = "{down}"\npath = "{spool}"\n')
    assert result.returncode == 0, result.stderr
    assert "warning: storage.dsn: cannot connect to PostgreSQL" in result.stdout
