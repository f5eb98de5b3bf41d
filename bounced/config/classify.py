"""[classify]: how failures become hard / soft / blocked, and operator overrides.

    [classify]
    greylist_default_delay = 300

    [[classify.overrides]]
    name = "treat full mailboxes as hard after all"
    reason = "mailboxfull"
    kind = "hard"

    [[classify.overrides]]
    status = "5.7.*"
    diagnostic = "not authori[sz]ed"
    kind = "blocked"
    set_reason = "policyviolation"

Matchers (`status`, `reply_code`, `reason`, `diagnostic`) must all match; the first
matching rule wins. Settings: `kind` and/or `set_reason`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from bounced.errors import ConfigError
from bounced.model import BounceKind, Reason

__all__ = ["ClassifyConfig", "ClassifyOverride"]

_STATUS_GLOB = re.compile(r"[245*](?:\.(?:\d{1,3}|\*)){0,2}|\*")
_REPLY_GLOB = re.compile(r"[245*][0-9*]{0,2}")


@dataclass(frozen=True)
class ClassifyOverride:
    """One operator rule; every given matcher must match; first matching rule wins."""

    status: str | None = None  # "5.7.1", or a glob like "5.7.*"
    reply_code: str | None = None  # "550", or "55*"
    reason: str | None = None  # reason found by the default classifier
    diagnostic: str | None = None  # regular expression, case-insensitive, searched
    kind: str | None = None  # new kind
    set_reason: str | None = None  # new reason
    name: str | None = None

    def validate(self, key: str) -> Iterator[ConfigError]:
        if self.status is not None and not _STATUS_GLOB.fullmatch(self.status.strip()):
            yield ConfigError(
                f"{key}.status", f'expected an enhanced status code or glob like "5.7.*", got {self.status!r}'
            )
        if self.reply_code is not None and not _REPLY_GLOB.fullmatch(self.reply_code.strip()):
            yield ConfigError(
                f"{key}.reply_code", f'expected a reply code or glob like "55*", got {self.reply_code!r}'
            )
        for name, value in (("reason", self.reason), ("set_reason", self.set_reason)):
            if value is not None and value not in Reason._value2member_map_:
                allowed = ", ".join(r.value for r in Reason)
                yield ConfigError(f"{key}.{name}", f"unknown reason {value!r} (allowed: {allowed})")
        if self.kind is not None and self.kind not in BounceKind._value2member_map_:
            allowed = ", ".join(k.value for k in BounceKind)
            yield ConfigError(f"{key}.kind", f"unknown kind {self.kind!r} (allowed: {allowed})")
        if self.diagnostic is not None:
            try:
                re.compile(self.diagnostic, re.IGNORECASE)
            except re.error as exc:
                yield ConfigError(
                    f"{key}.diagnostic", f"not a valid regular expression ({exc}): {self.diagnostic!r}"
                )
        if all(v is None for v in (self.status, self.reply_code, self.reason, self.diagnostic)):
            yield ConfigError(key, "an override needs at least one of status, reply_code, reason, diagnostic")
        if self.kind is None and self.set_reason is None:
            yield ConfigError(key, "an override needs kind and/or set_reason")


@dataclass(frozen=True)
class ClassifyConfig:
    greylist_default_delay: int = 300  # seconds, when a server says greylisted without a number
    overrides: list[ClassifyOverride] = field(default_factory=list)
    # Built-in per-provider patterns (bounced.classify.providers); off = text rules only.
    provider_patterns: bool = True
    # "default": every hard (5xx about the address) bounce suppresses. "conservative": only
    # Sisimai's hard-bounce reasons (userunknown, hostunknown, hasmoved, notaccept) do; the
    # other hard ones are recorded and counted, and suppress nothing (docs/classify.md).
    preset: Literal["default", "conservative"] = "default"

    def validate(self, key: str) -> Iterator[ConfigError]:
        if self.greylist_default_delay < 0:
            yield ConfigError(
                f"{key}.greylist_default_delay",
                f"expected seconds >= 0, got {self.greylist_default_delay!r}",
            )
