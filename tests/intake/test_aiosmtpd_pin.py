"""bounced.intake.protocol overrides and copies private parts of aiosmtpd (pinned to 1.4.6 in
pyproject.toml). This fails, naming the method, when the installed aiosmtpd's source of any
of them differs from the one adapted, so an upgrade is a review, not a surprise."""

from __future__ import annotations

import hashlib
import inspect
from importlib.metadata import version

import pytest
from aiosmtpd.smtp import SMTP, _AuthMechAttr

from bounced.intake.protocol import BounceSMTP

ADAPTED_VERSION = "1.4.6"
# sha256 of inspect.getsource(SMTP.<name>) in aiosmtpd 1.4.6, first 16 hex digits, and why
# bounced depends on it.
ADAPTED = {
    "__init__": ("8a9ca80f23ad9bf2", "overridden; clone() copies the attributes it sets"),
    "smtp_DATA": ("3a33f30d3fd6d02f", "copied into BounceSMTP._receive_data"),
    "push": ("15f4f1de5e30c337", "overridden: one write per reply, the command count"),
    "_getaddr": ("0aeb21c56ac1260e", "overridden by a fast path with the same results"),
    "connection_made": ("77a45df5065bba34", "overridden: connection limits"),
    "connection_lost": ("d3bf6349bc3c25c1", "overridden: connection limits"),
    "_handle_client": ("0e4d096403af6c74", "its loop: one push per command, CancelledError ends it"),
    "_reset_timeout": ("fef19b94d28dff31", "called for the DATA budget"),
    "_set_post_data_state": ("1dc8a8abca2a8164", "called after DATA"),
    "_cb_client_connected": ("a73e95bb7f362ab9", "passed to the StreamReaderProtocol by clone()"),
}
AUTH_MECH_ATTR = "f0918a59ff9135dd"  # the source of aiosmtpd.smtp._AuthMechAttr, rebuilt by clone()


def _digest(obj: object) -> str:
    return hashlib.sha256(inspect.getsource(obj).encode()).hexdigest()[:16]  # type: ignore[arg-type]


def _changed(what: str, why: str) -> str:
    return (
        f"aiosmtpd {version('aiosmtpd')} changed {what} (bounced adapted it from {ADAPTED_VERSION}: "
        f"{why}). Review bounced/intake/protocol.py against the new source, run "
        f"tests/intake/test_data_reader.py, then record the new hash in {__name__}."
    )


@pytest.mark.parametrize("name", sorted(ADAPTED))
def test_adapted_aiosmtpd_method_is_unchanged(name: str) -> None:
    recorded, why = ADAPTED[name]
    assert _digest(getattr(SMTP, name)) == recorded, _changed(f"SMTP.{name}", why)


def test_adapted_aiosmtpd_helpers_are_unchanged() -> None:
    assert _digest(_AuthMechAttr) == AUTH_MECH_ATTR, _changed("_AuthMechAttr", "clone() rebuilds it")


def test_every_override_is_recorded() -> None:
    overridden = {name for name in vars(BounceSMTP) if hasattr(SMTP, name) and name != "__doc__"}
    overridden -= {"__module__", "__dict__", "__weakref__", "__annotations__"}
    assert overridden <= set(ADAPTED), (
        f"record these overrides of aiosmtpd in ADAPTED: {overridden - set(ADAPTED)}"
    )


def test_installed_aiosmtpd_is_the_pinned_one() -> None:
    assert version("aiosmtpd").startswith(ADAPTED_VERSION), _changed("its version", "the pin")
