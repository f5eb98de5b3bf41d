"""`bounced suppression export` -> `bounced suppression import` on a fresh database gives the
same list, exactly, for 100,000 addresses, in both formats; import is idempotent and audited."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from bounced.config.storage import StorageConfig
from bounced.store import open_store
from tests.http.transfer_data import bounced, config_for, fill


def _audit_count(db: str) -> int:
    async def main() -> int:
        store = await open_store(StorageConfig(path=db))
        try:
            return len(await store.audit_entries())
        finally:
            await store.close()

    return asyncio.run(main())


@pytest.mark.parametrize(("fmt", "count"), [("csv", 100_000), ("jsonl", 20_000)])
def test_export_import_round_trip(tmp_path: Path, fmt: str, count: int) -> None:
    source = config_for(tmp_path, "source")
    fill(tmp_path / "source.sqlite3", count)
    exported = tmp_path / f"list.{fmt}"
    result = bounced(source, "suppression", "export", "--format", fmt, "--output", str(exported))
    assert result.returncode == 0, result.stderr
    assert f"{count} suppressed address(es) exported".encode() in result.stderr

    fresh = config_for(tmp_path, "fresh")
    result = bounced(fresh, "suppression", "import", str(exported), "--reason", "moved hosts", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"added": count, "already_present": 0, "invalid": 0, "problems": []}

    again = bounced(fresh, "suppression", "export", "--format", fmt)
    assert again.stdout == exported.read_bytes()  # the same list, every field, the same order
    assert _audit_count(str(tmp_path / "fresh.sqlite3")) == count

    twice = bounced(fresh, "suppression", "import", str(exported), "--reason", "moved hosts")
    assert (
        twice.returncode == 0
        and twice.stdout.strip() == f"0 added, {count} already present, 0 invalid".encode()
    )
    assert _audit_count(str(tmp_path / "fresh.sqlite3")) == count  # nothing changed, nothing audited


def test_import_counts_and_names_invalid_lines(tmp_path: Path) -> None:
    config = config_for(tmp_path, "db")
    plain = tmp_path / "plain.txt"
    plain.write_text("a@example.org\n\nnot-an-address\nb@Example.ORG\na@example.org\nwith space@x.org\n")
    result = bounced(config, "suppression", "import", str(plain), "--reason", "old list")
    assert result.returncode == 1
    assert result.stdout.strip() == b"2 added, 1 already present, 2 invalid"
    assert b"line 3: address: 'not-an-address' is not an email address" in result.stderr
    assert b"line 6:" in result.stderr
    listed = json.loads(bounced(config, "suppression", "list", "--json").stdout)
    assert [e["address"] for e in listed["entries"]] == ["a@example.org", "b@example.org"]
    assert {e["reason"] for e in listed["entries"]} == {"old list"}
    audit = json.loads(bounced(config, "suppression", "audit", "--json").stdout)
    assert [(a["action"], a["reason"]) for a in audit] == [("suppression.add", "old list")] * 2
    assert bounced(config, "suppression", "import", str(plain), "--reason", " ").returncode == 2
