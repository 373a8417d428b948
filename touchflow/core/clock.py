"""The one clock of Touchflow.

Every piece of code asks this module for the time, so tests move the clock
(``time_machine``) instead of sleeping, and no naive datetime ever appears.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.utils import timezone


def now() -> datetime:
    """The current instant, time-zone aware (UTC)."""
    return timezone.now()


def ensure_aware(value: datetime) -> datetime:
    """Treat a naive datetime as UTC; leave an aware one alone."""
    if timezone.is_naive(value):
        return timezone.make_aware(value, UTC)
    return value
