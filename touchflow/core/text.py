"""How long free text may be, and which characters it may hold: one definition for
the API's schemas and the web forms, so both refuse the same input.

PostgreSQL cannot store a NUL character in text (psycopg refuses the query), and the
other control characters are junk from a broken till or a fuzzer, never part of a
name or a note; tab and line breaks are kept.
"""

from __future__ import annotations

from touchflow.core.errors import InvalidInput

# Limits in characters, named by what the text is.
CODE = 64  # a reason, category or store code; a messenger handle; a contact as typed
USERNAME = 150  # Django's username
NAME = 200  # a person's or an item's name
EMAIL = 254  # RFC 5321's longest path
EXTERNAL_ID = 100  # an id from the POS
NOTE = 2000  # a visit's or a call's note
SEARCH = 200  # a search box

_ALLOWED_CONTROLS = frozenset("\t\n\r")


class TextTooLong(InvalidInput):
    """Text over its limit; ``limit`` lets a translated message say how many characters."""

    def __init__(self, field: str, limit: int) -> None:
        super().__init__(field, f"At most {limit} characters.", "too_long")
        self.limit = limit


def has_control_characters(value: str) -> bool:
    return any(ord(ch) < 32 and ch not in _ALLOWED_CONTROLS for ch in value)


def check_text(field: str, value: str, limit: int) -> str:
    """``value`` unchanged if it fits ``limit`` and holds no control characters;
    otherwise InvalidInput naming ``field``."""
    if has_control_characters(value):
        raise InvalidInput(field, "Text must not contain control characters.",
                           "invalid_characters")
    if len(value) > limit:
        raise TextTooLong(field, limit)
    return value
