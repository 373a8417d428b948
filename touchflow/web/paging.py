"""Pages of a long list that count at most a capped number of its rows (decision 0027).

Counting every match of a list over millions of rows on each page view is what makes it
slow; a page says "more than 1,000" instead and pages through those.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.functional import cached_property

COUNT_CAP = 1_000


class CappedPaginator(Paginator):  # type: ignore[type-arg]
    """A paginator that counts at most ``cap`` rows (``COUNT_CAP`` unless given), on the
    rows without their order or joins; ``matched``, when known, spares the count.

    With ``fetch`` (ids → their rows), the matches are read once, as the ids of the
    first ``cap`` + 1 in order, and a page's rows by their ids: one read instead of a
    count and a page, for a list walked in its order whose count would be planned as a
    join of a whole set (the customers in a chain; ``customer_listing.fetch_by_ids``
    says which lists)."""

    def __init__(self, rows: QuerySet[Any], per_page: int, cap: int | None = None,
                 matched: int | None = None,
                 fetch: Callable[[list[Any]], Iterable[Any]] | None = None) -> None:
        super().__init__(rows, per_page)
        self._rows = rows
        self._fetch = fetch
        self.cap = COUNT_CAP if cap is None else cap
        if matched is not None:
            self.__dict__["matched"] = matched

    @cached_property
    def ids(self) -> list[Any]:
        """The first ``cap`` + 1 matches' ids, in the list's order."""
        return list(self._rows.values_list("pk", flat=True)[: self.cap + 1])

    @cached_property
    def matched(self) -> int:
        """The matches, counted up to one more than the cap."""
        if self._fetch is not None:
            return len(self.ids)
        return self._rows.order_by().values("pk")[: self.cap + 1].count()

    @cached_property
    def count(self) -> int:
        return min(self.matched, self.cap)

    @property
    def capped(self) -> bool:
        return self.matched > self.cap

    def page(self, number: Any) -> Page[Any]:
        if self._fetch is None:
            return super().page(number)
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        wanted = self.ids[bottom:min(bottom + self.per_page, self.count)]
        found = {row.pk: row for row in self._fetch(wanted)}
        return Page([found[pk] for pk in wanted if pk in found], number, self)


def query_with(request: HttpRequest, key: str, value: str | None) -> str:
    """This page's query string with ``key`` set to ``value`` (None: left out), the
    rest — a search, the filters — as it is: the links to other pages of a list."""
    query = request.GET.copy()
    if value is None:
        query.pop(key, None)
    else:
        query[key] = value
    return str(query.urlencode())
