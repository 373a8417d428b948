"""The one clock of Touchflow.

Every piece of code asks this module for the time, so tests move the clock
(``time_machine``) instead of sleeping, and no naive datetime ever appears.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from django.utils import timezone

from touchflow.core.errors import InvalidInput

_source: Callable[[], datetime] = timezone.now


def now() -> datetime:
    """The current instant, time-zone aware (UTC)."""
    return _source()


@contextmanager
def simulated(source: Callable[[], datetime]) -> Iterator[None]:
    """Within the block, ``now()`` is ``source()``: a replay runs a year of Touchflow
    on a moving clock of its own (``touchflow replay``). Not for request handling."""
    global _source
    previous, _source = _source, source
    try:
        yield
    finally:
        _source = previous


# Clocks of tills and tablets drift; a time a few minutes "in the future" is not an error.
FUTURE_SKEW = timedelta(minutes=10)


def ensure_aware(value: datetime) -> datetime:
    """Treat a naive datetime as UTC; leave an aware one alone."""
    if timezone.is_naive(value):
        return timezone.make_aware(value, UTC)
    return value


def occurred(
    at: datetime | None, what: str, field: str = "occurred_at"
) -> tuple[datetime, datetime]:
    """``(now, when it happened)``: now when not given; refuses a time in the future."""
    current = now()
    when = ensure_aware(at) if at else current
    if when > current + FUTURE_SKEW:
        raise InvalidInput(field, f"{what} cannot be in the future.", "in_future")
    return current, when
