"""``CappedPaginator`` with ``fetch``: the matches read once as ordered ids, each page's
rows by their ids — the same pages, in the same order, as counting and slicing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from touchflow.stores.models import Store
from touchflow.web.paging import CappedPaginator


def test_pages_read_by_ids_are_the_pages_read_by_slices(
    make_store: Callable[..., Store], django_assert_num_queries: Any
) -> None:
    for n in (3, 1, 4, 1, 5, 9, 2):
        make_store(name=f"Shop {n} {make_store.__name__}")  # names repeat: ties by pk
    rows = Store.objects.order_by("-name", "pk")
    sliced = CappedPaginator(rows, 2, cap=5)
    by_ids = CappedPaginator(rows, 2, cap=5, fetch=lambda ids: Store.objects.filter(pk__in=ids))
    assert (by_ids.matched, by_ids.count, by_ids.capped, by_ids.num_pages) == (6, 5, True, 3)
    assert (sliced.matched, sliced.count, sliced.num_pages) == (6, 5, 3)
    for number in (1, 2, 3):
        assert [s.pk for s in by_ids.page(number)] == [s.pk for s in sliced.page(number)]
    assert len(by_ids.page(3)) == 1  # the fifth match; the sixth only says "more than"
    fresh = CappedPaginator(rows, 2, cap=5, fetch=lambda ids: Store.objects.filter(pk__in=ids))
    with django_assert_num_queries(2):  # the ids, then the page: no count
        assert len(fresh.page(2)) == 2 and fresh.capped
