"""Writing a row that a client may send twice at once (the same external id) or that
races another request for the same new contact."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.db import IntegrityError, transaction

T = TypeVar("T")


def write_once(
    write: Callable[[], T], existing: Callable[[], T | None], attempts: int = 3
) -> tuple[T, bool]:
    """``(write(), True)`` in a transaction of its own; when the write loses a race
    (IntegrityError), ``(what existing() finds, False)`` — the row the winner wrote under
    the same key — or, if it finds none (the race was over a new contact, which the next
    round finds), the write again, up to ``attempts`` times."""
    for attempt in range(attempts):
        try:
            with transaction.atomic():
                return write(), True
        except IntegrityError:
            found = existing()
            if found is not None:
                return found, False
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")
