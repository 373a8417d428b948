"""Pages of a long list that count at most a capped number of its rows (decision 0027).

Counting every match of a list over millions of rows on each page view is what makes it
slow; a page says "more than 1,000" instead and pages through those.
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.functional import cached_property

COUNT_CAP = 1_000


class CappedPaginator(Paginator):  # type: ignore[type-arg]
    """A paginator that counts at most ``cap`` rows (``COUNT_CAP`` unless given), on the
    rows without their order or joins; ``matched``, when known, spares the count."""

    def __init__(self, rows: QuerySet[Any], per_page: int, cap: int | None = None,
                 matched: int | None = None) -> None:
        super().__init__(rows, per_page)
        self._rows = rows
        self.cap = COUNT_CAP if cap is None else cap
        if matched is not None:
            self.__dict__["matched"] = matched

    @cached_property
    def matched(self) -> int:
        """The matches, counted up to one more than the cap."""
        return self._rows.order_by().values("pk")[: self.cap + 1].count()

    @cached_property
    def count(self) -> int:
        return min(self.matched, self.cap)

    @property
    def capped(self) -> bool:
        return self.matched > self.cap


def query_with(request: HttpRequest, key: str, value: str | None) -> str:
    """This page's query string with ``key`` set to ``value`` (None: left out), the
    rest — a search, the filters — as it is: the links to other pages of a list."""
    query = request.GET.copy()
    if value is None:
        query.pop(key, None)
    else:
        query[key] = value
    return str(query.urlencode())
