"""Raw bounce bytes to `ParsedMessage`: pure, bounded, and never raising on content.

from bounced.parse import parse_message
parsed = parse_message(raw)
"""

from __future__ import annotations

import email.errors

from bounced.model import MessageType, ParsedMessage
from bounced.parse.scan import scan

__all__ = ["parse_message"]


def parse_message(raw: bytes) -> ParsedMessage:
    """Parse one message. Malformed input yields what could be read, never an exception."""
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise TypeError(f"parse_message expects bytes, got {type(raw).__name__}")
    try:
        return scan(bytes(raw))
    except (
        RecursionError,
        MemoryError,
        LookupError,
        ValueError,
        TypeError,
        AttributeError,
        UnicodeError,
        AssertionError,
        ArithmeticError,
        email.errors.MessageError,
    ) as exc:
        # The contract is "never raises on content": hostile input that trips the stdlib parser
        # becomes an unrecognised message whose defects say why, so the caller can keep it for a human.
        return ParsedMessage(
            message_type=MessageType.NONE, defects=(f"parse error: {type(exc).__name__}: {exc}"[:300],)
        )
