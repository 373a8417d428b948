"""Writes to stores and staff that are not the Django admin's business."""

from __future__ import annotations

from touchflow.core.errors import InvalidInput
from touchflow.stores.models import LANGUAGE_CHOICES, Staff

LANGUAGES = {code for code, _label in LANGUAGE_CHOICES}


def set_staff_language(staff: Staff, language: str) -> Staff:
    """Set the language the staff member sees the UI in; raise InvalidInput if unknown."""
    if language not in LANGUAGES:
        raise InvalidInput(
            "language", f"Language must be one of {sorted(LANGUAGES)}.", "invalid_choice"
        )
    if staff.language != language:
        staff.language = language
        staff.save(update_fields=["language"])
    return staff
