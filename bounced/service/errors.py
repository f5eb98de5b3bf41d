"""The service layer's one error: a request value that is wrong, naming its field."""

from __future__ import annotations

from bounced.errors import BouncedError

__all__ = ["InvalidInput"]


class InvalidInput(BouncedError, ValueError):
    """`field` is the parameter's name as the caller gave it ("email", "reason", "from");
    the CLI turns it into exit 2, the API into 422."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
