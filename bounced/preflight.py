"""What `serve` needs from the machine before it binds, checked without starting anything.

`bounced check-config` runs every check (the unit's ExecStartPre, so a broken setup fails
before the start, in the journal, with the key named); `serve` and the store run the same
ones, so both say the same thing. Each problem is one line; all are reported at once.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import ssl
import tempfile
from pathlib import Path

from bounced.config import Config

__all__ = ["database_problem", "postgres_problem", "startup_problems", "tls_problem"]


def startup_problems(config: Config, warnings: list[str] | None = None) -> list[str]:
    """Every reason `bounced serve` with `config` would fail to start on this machine.

    A PostgreSQL server that does not answer now is no such reason when `warnings` is given
    (it gets the line instead): the node starts, takes bounces into its local spool and
    connects when the server answers (docs/nodes.md)."""
    problems = []
    db = database_problem(config.storage.path)
    if db:
        problems.append(db)
    if config.storage.backend == "postgresql":
        server = postgres_problem(config.storage.dsn)
        if server is not None:
            line, only_away = server
            (warnings if only_away and warnings is not None else problems).append(line)
    pairs = [("smtp", config.smtp.tls_cert, config.smtp.tls_key)]
    if config.submission.enabled:
        pairs.append(("submission", config.submission.tls_cert, config.submission.tls_key))
    for section, cert, key in pairs:
        tls = tls_problem(section, cert, key)
        if tls:
            problems.append(tls)
    if config.submission.enabled and config.relay.ca_file:
        try:
            ssl.create_default_context(cafile=config.relay.ca_file)
        except (OSError, ssl.SSLError) as exc:
            problems.append(f"relay.ca_file: cannot load {config.relay.ca_file}: {_why(exc)}")
    return problems


def postgres_problem(dsn: str, timeout: float = 5.0) -> tuple[str, bool] | None:
    """Why the PostgreSQL server of [storage] dsn cannot be used now (one line), and whether
    it only does not answer now (see `connect_check`); None when it can."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from bounced.store.postgres.connection import connect_check

    with ThreadPoolExecutor(1) as pool:  # a loop of its own, whether or not one runs here
        found = pool.submit(asyncio.run, connect_check(dsn, timeout)).result()
    if found is None:
        return None
    return "storage.dsn: " + " ".join(found[0].split()), found[1]


def tls_problem(section: str, cert: str | None, key: str | None) -> str | None:
    """Why the PEM pair cannot serve STARTTLS (unreadable, not PEM, key not of this cert)."""
    if not cert or not key:
        return None
    for name, path in (("tls_cert", cert), ("tls_key", key)):
        try:
            with open(path, "rb"):
                pass
        except OSError as exc:
            return f"{section}.{name}: cannot read {path}: {_why(exc)}"
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        return f"{section}.tls_cert: {cert} and {section}.tls_key {key} are not a valid PEM pair: {_why(exc)}"
    return None


def database_problem(path: str) -> str | None:
    """Why the SQLite database at `path` cannot be opened for writing, in words an operator
    can act on; None when it can (or does not exist yet and can be created)."""
    db = Path(path)
    parent = db.resolve().parent if not db.is_absolute() else db.parent
    user = _user()
    if not parent.exists():
        return f"storage.path: directory {parent} does not exist"
    if not parent.is_dir():
        return f"storage.path: {parent} is not a directory"
    if db.exists() and not db.is_file():
        return f"storage.path: {db} is not a file ({_kind(db)})"
    if _read_only(parent):
        return f"storage.path: {parent} is on a read-only file system"
    if db.exists() and not os.access(db, os.R_OK | os.W_OK):
        return f"storage.path: permission denied: {db} is not readable and writable by {user}"
    # SQLite creates the database, its -wal and -shm files (and the daemon its .lock) there:
    # try it (os.access says yes to root where the file system still says no).
    try:
        fd, probe = tempfile.mkstemp(dir=parent, prefix=".bounced-check-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM):
            return f"storage.path: permission denied: directory {parent} is not writable by {user}"
        return f"storage.path: cannot create files in {parent}: {_why(exc)}"
    if db.exists() and db.stat().st_size:
        try:
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
            try:
                conn.execute("PRAGMA schema_version").fetchone()
            finally:
                conn.close()
        except sqlite3.Error as exc:
            return f"storage.path: {db} cannot be opened as a database: {exc}"
    return None


def _kind(path: Path) -> str:
    return "a directory" if path.is_dir() else "a device, socket or pipe"


def _read_only(directory: Path) -> bool:
    try:
        return bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _user() -> str:
    return f"uid {os.geteuid()}"


def _why(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)
