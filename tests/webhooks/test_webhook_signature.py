"""docs/webhooks.md: the signature test vector and the receiver's verification snippet."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bounced.webhooks.payload import sign_body, verify_signature

DOC = (Path(__file__).parents[2] / "docs" / "webhooks.md").read_text()
VECTOR = re.compile(r"^\| `([^`]+)` \| `(\d+)` \| `([^`]+)` \| `(t=[^`]+)` \|$", re.MULTILINE)


def snippet() -> Any:
    code = DOC.split("## Verifying a request", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(compile(code, "docs/webhooks.md", "exec"), namespace)  # the documented snippet, as printed
    return namespace["verify"]


def test_the_vector_matches_the_signer_and_the_documented_verifier() -> None:
    ((secret, t, body, header),) = VECTOR.findall(DOC)
    assert sign_body(secret, int(t), body.encode()) == header
    verify = snippet()
    assert verify(secret, header, body.encode(), now=int(t) + 10)
    assert not verify(secret, header, body.encode() + b" ", now=int(t))
    assert not verify("another-secret", header, body.encode(), now=int(t))
    assert not verify(secret, header, body.encode(), now=int(t) + 301)  # replayed later
    assert verify_signature(secret, header, body.encode(), now=int(t))
    assert not verify_signature(secret, header, body.encode(), now=int(t) + 301)
    assert not verify_signature(secret, "v1=" + header.rpartition("v1=")[2], body.encode(), now=int(t))
