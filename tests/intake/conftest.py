"""Fixtures shared by the intake tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import self_signed_certificate


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[str, str]:
    return self_signed_certificate(tmp_path, "mx.test")
