"""Writing a row that a client may send twice at once (the same external id) or that
races another request for the same new contact."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.db import IntegrityError, models, transaction

T = TypeVar("T")
M = TypeVar("M", bound=models.Model)


def by_external_id(model: type[M], store: Any, external_id: str | None) -> Callable[[], M | None]:
    """What finds the row a client already sent under ``external_id`` in ``store`` (None
    without a key): asked before a write, and by ``write_once`` after a lost race."""
    def existing() -> M | None:
        if not external_id:
            return None
        rows = model._default_manager.filter(store=store, external_id=external_id)
        found: M | None = rows.first()
        return found

    return existing


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
