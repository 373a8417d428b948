"""Errors that domain actions raise for bad input.

Each names the field it is about, so the API can answer 4xx with that field, the
web UI can show the message beside it, and an import can report it with a line.
"""

from __future__ import annotations


class InvalidInput(ValueError):
    """Input that breaks a rule. ``field`` names the offending input field."""

    def __init__(self, field: str, message: str, code: str = "invalid") -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.code = code


class NotFound(LookupError):
    """A referenced object does not exist (or is not visible to the caller)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
