"""Fixture loading for the parser tests (helpers are fixtures: test modules import nothing from here)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from string import Template

import pytest

from bounced.model import ParsedMessage
from bounced.parse import parse_message

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SENDER = "b-5d1e.x=example.net@bounces.sender.example"


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture
def sender() -> str:
    """The envelope sender (our bounce address) the templates use."""
    return SENDER


@pytest.fixture
def fixture_bytes() -> Callable[[str], bytes]:
    return lambda name: (FIXTURES / name).read_bytes()


@pytest.fixture
def parse_fixture() -> Callable[[str], ParsedMessage]:
    return lambda name: parse_message((FIXTURES / name).read_bytes())


@pytest.fixture
def render_template() -> Callable[[str, str, str], bytes]:
    """render_template(layout, recipient, reply) -> raw bounce bytes (layouts: dsn, exim, qmail)."""

    def render(layout: str, recipient: str, reply: str) -> bytes:
        text = (FIXTURES / "templates" / f"{layout}.eml.tmpl").read_text()
        return Template(text).substitute(recipient=recipient, reply=reply, sender=SENDER).encode()

    return render
