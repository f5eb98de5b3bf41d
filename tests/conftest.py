"""Shared fixtures: real loopback ports, real SQLite files, the shared corpus."""

from __future__ import annotations

import logging
import os
import random
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bounced.config.storage import StorageConfig
from bounced.store import Store, open_store
from tests.pg import _pg_databases, pg_config, pg_dsn, pg_template  # noqa: F401  (fixtures)
from tests.xdist_worker import worker_count, worker_index

REPO = Path(__file__).resolve().parent.parent
# BOUNCED_CORPUS: the corpus elsewhere (a worktree outside the checkout's parent directory).
CORPUS = Path(os.environ.get("BOUNCED_CORPUS") or REPO.parent / "shared" / "corpus")
FIXTURES = Path(__file__).resolve().parent / "fixtures"


# Ports for servers a test configures by number (a config's listen address): below Linux's
# ephemeral range (32768-60999), so no other process's bind(0) or outgoing connection takes
# one between our check and the server's bind; each is handed out once per run. Under
# pytest-xdist each worker draws from its own slice of the range, so two workers never hand
# out one port; at random within it, so concurrent runs on one machine rarely meet
# (running_daemon retries if they do).
_PORTS = (20_000, 32_000)
_HANDED_OUT: set[int] = set()
_PICK = random.SystemRandom()  # not the seeded `random` (pytest-randomly): runs must differ


def _port_range() -> tuple[int, int]:
    """This worker's slice of _PORTS (all of it without xdist)."""
    size = (_PORTS[1] - _PORTS[0]) // worker_count()
    return _PORTS[0] + worker_index() * size, _PORTS[0] + (worker_index() + 1) * size


def free_port(host: str = "127.0.0.1") -> int:
    low, high = _port_range()
    for _ in range(200):
        port = _PICK.randrange(low, high)
        if port in _HANDED_OUT:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError(f"no free port found in {low}-{high}")


def self_signed_certificate(directory: Path, common_name: str) -> tuple[str, str]:
    """A throwaway certificate and key (PEM) valid for 127.0.0.1 and localhost; skips the
    test when openssl is absent."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl command not found: cannot make a test certificate")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", f"/CN={common_name}", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return str(cert), str(key)


def child_pids(parent: int, marker: bytes) -> list[int]:
    """Live children of `parent` whose command line contains `marker` (zombies have none)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue  # ended meanwhile
        if ppid == parent and marker in cmdline:
            pids.append(int(stat.parent.name))
    return pids


@pytest.fixture
def corpus() -> Path:
    if not (CORPUS / "expected.jsonl").is_file():
        pytest.skip(f"bounce corpus not found at {CORPUS} (shared/corpus is absent)")
    return CORPUS


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "bounced.sqlite3"


BACKENDS = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test using the `store` fixture below runs on each backend; tests marked
    `sqlite_only` (they read the SQLite file, or SQLite-only behaviour) run on SQLite."""
    if "backend" in metafunc.fixturenames:
        only = metafunc.definition.get_closest_marker("sqlite_only")
        metafunc.parametrize("backend", ["sqlite"] if only else BACKENDS, indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """The store backend of this test run ("sqlite" unless parametrized)."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def storage_config(backend: str, db_path: Path, request: pytest.FixtureRequest) -> StorageConfig:
    """[storage] of the test's store: a temporary SQLite file, or a fresh PostgreSQL database
    (skipped, saying so, when no PostgreSQL server is reachable)."""
    if backend == "postgresql":
        config: StorageConfig = request.getfixturevalue("pg_config")
        return config
    return StorageConfig(path=str(db_path), busy_timeout=5.0)


@pytest.fixture
async def store(storage_config: StorageConfig) -> AsyncIterator[Store]:
    """A real store (SQLite file or PostgreSQL database), opened through `open_store`."""
    opened = await open_store(storage_config)
    try:
        yield opened
    finally:
        await opened.close()


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Callable[[], Any]]:
    """Async tests run on uvloop, the loop `bounced serve` runs on (see bounced.cli.serve)."""
    import uvloop

    return {"uvloop": uvloop.new_event_loop}


@pytest.fixture(autouse=True)
def _log_lines_are_logfmt() -> Any:
    """Fail a test whose code logged a line that is not one key=value line."""
    from tests.logcheck import LogLineCheck

    check = LogLineCheck()
    root = logging.getLogger()
    root.addHandler(check)
    previous = root.level
    if root.level > logging.INFO:
        root.setLevel(logging.INFO)
    try:
        yield check
    finally:
        root.removeHandler(check)
        root.setLevel(previous)
    assert not check.bad, "log lines that are not one logfmt line:\n" + "\n".join(check.bad[:5])


@pytest.fixture
def receiver() -> Iterator[Any]:
    """A real webhook receiver on a loopback port (tests/webhooks/receiver.py)."""
    from tests.webhooks.receiver import Receiver

    r = Receiver()
    r.start()
    yield r
    r.stop()
