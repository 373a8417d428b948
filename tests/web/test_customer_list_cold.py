"""The customer list's "going cold" filter (``cold=buyers|prospects|any``) lists exactly
the customers cold at one of the viewer's (or the chosen) stores, each once, by their
latest link there — checked against the rule computed here, row by row, for every
viewer and segment (bench/RESULTS.md: the filter now starts from the cold rows)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.web.test_customer_list import World, cold, phone, visit
from touchflow.customers import listing, visibility
from touchflow.customers.models import CustomerStore
from touchflow.flows.models import Flow
from touchflow.health.models import CustomerHealth
from touchflow.stores.models import Staff, Store
from touchflow.web import customer_listing

NEVER = datetime(1900, 1, 1, tzinfo=UTC)


@pytest.fixture
def world(store: Store, make_store: Callable[..., Store], make_staff: Callable[..., Staff],
          follow_up: Flow) -> World:
    """test_customer_list's world (Anna cold at Warsaw, her last visit at Kraków, where she
    is not; Bolek cold at Warsaw; Cyryl in rhythm at Kraków; Lorna cold at London only),
    and Zofia, cold at both Warsaw (a prospect) and Kraków (a buyer)."""
    w = World(store, make_store, make_staff)
    w.zofia = visit(w.warsaw, w.sam, "type3", 20, name="Zofia Dwa",  # type: ignore[attr-defined]
                    contacts=phone("+48501000010"))
    visit(w.krakow, w.ola, "type3", 15, customer=w.zofia)  # type: ignore[attr-defined]
    cold(w.zofia, w.warsaw, "prospects")  # type: ignore[attr-defined]
    cold(w.zofia, w.krakow, "buyers")  # type: ignore[attr-defined]
    return w


def expected(scope: visibility.Stores, segment: str) -> list[tuple[int, int]]:
    """(customer, link) listed, newest customer first: of the customers cold in
    ``segment`` (any for "any") at one of ``scope``'s stores, their latest link there."""
    health = CustomerHealth.objects.filter(cold=True)
    links = CustomerStore.objects.all()
    if scope is not None:
        health = health.filter(store_id__in=scope)
        links = links.filter(store_id__in=scope)
    if segment != customer_listing.COLD_ANY:
        health = health.filter(segment=segment)
    cold_ids = set(health.values_list("customer_id", flat=True))
    latest: dict[int, CustomerStore] = {}
    for link in links:
        key = (link.last_visit_at or NEVER, link.pk)
        if link.customer_id in cold_ids and (
                link.customer_id not in latest
                or key > (latest[link.customer_id].last_visit_at or NEVER,
                          latest[link.customer_id].pk)):
            latest[link.customer_id] = link
    return sorted(((pk, link.pk) for pk, link in latest.items()), reverse=True)


def listed(scope: visibility.Stores, stores: visibility.Stores, store: Store | None,
           segment: str, sort: str = "newest") -> tuple[list[tuple[int, int]], int]:
    """The page's (customer, link) rows and the capped count, as the list reads them."""
    filters = customer_listing.Filters(cold=segment, store=store, sort=sort)
    rows = listing.links(customer_listing.build(filters, stores))
    count = rows.order_by().values("pk")[: customer_listing.COUNT_CAP + 1].count()
    return [(link.customer_id, link.pk) for link in rows], count


@pytest.mark.parametrize("sort", listing.SORTS)
@pytest.mark.parametrize("segment", ["buyers", "prospects", "any"])
def test_cold_lists_each_cold_customer_once_by_their_latest_link_in_the_scope(
    world: World, segment: str, sort: str,
) -> None:
    """Newest first, one segment starts from the cold rows; the rest probe the links."""
    w = world
    mira = frozenset({w.warsaw.pk, w.krakow.pk})
    assert (customer_listing.build(customer_listing.Filters(cold=segment, sort=sort), mira)
            .among is not None) == (segment != "any" and sort == "newest")
    for stores, store in ((mira, None), (mira, w.warsaw), (mira, w.krakow),
                          (frozenset({w.warsaw.pk}), None), (frozenset({w.london.pk}), None),
                          (None, None), (None, w.london)):
        scope = stores if store is None else frozenset({store.pk})
        rows, count = listed(scope, stores, store, segment, sort)
        want = expected(scope, segment)
        assert (rows if sort == "newest" else sorted(rows, reverse=True)) == want, (
            stores, store, segment, sort)
        assert count == len(rows)


def test_a_page_starting_from_the_cold_rows_reads_its_rows_along(
    world: World, django_assert_num_queries: Any,
) -> None:
    """The customer, their home store, the link's store and the seller come with the page
    (four reads after it, whatever the number of rows), not one row at a time."""
    w = world
    filters = customer_listing.Filters(cold="buyers")
    rows = listing.links(customer_listing.build(filters, frozenset({w.warsaw.pk,
                                                                    w.krakow.pk})))
    with django_assert_num_queries(1 + 4):
        shown = [(link.customer.name, link.customer.home_store.slug, link.store.slug,
                  link.last_visit_staff.username if link.last_visit_staff else "")
                 for link in rows]
    assert shown == [("Zofia Dwa", "warsaw", "krakow", "ola"),
                     ("Anna Nowak", "warsaw", "krakow", "ola")]


def test_the_cases_by_name(world: World) -> None:
    w = world
    zofia = w.zofia  # type: ignore[attr-defined]
    mira = frozenset({w.warsaw.pk, w.krakow.pk})

    def ids(segment: str, store: Store | None = None,
            stores: visibility.Stores = mira) -> list[int]:
        scope = stores if store is None else frozenset({store.pk})
        return [pk for pk, _link in listed(scope, stores, store, segment)[0]]

    # Anna is cold at Warsaw and listed by her Kraków link (her last visit), where she is
    # in rhythm; Zofia, cold at both stores, once.
    assert ids("buyers") == [zofia.pk, w.anna.pk]
    assert listed(mira, mira, None, "buyers")[0][1] == (
        w.anna.pk, CustomerStore.objects.get(customer=w.anna, store=w.krakow).pk)
    assert ids("prospects") == [zofia.pk, w.bolek.pk]
    assert ids("any") == [zofia.pk, w.bolek.pk, w.anna.pk]
    assert ids("buyers", w.warsaw) == [w.anna.pk]
    assert ids("buyers", w.krakow) == [zofia.pk]
    assert ids("prospects", w.krakow) == []
    # London's judgement is London's: Lorna is not cold for Warsaw, though it knows her.
    assert ids("any", stores=frozenset({w.warsaw.pk})) == [zofia.pk, w.bolek.pk, w.anna.pk]
    assert ids("buyers", stores=frozenset({w.london.pk})) == [w.lorna.pk]
    assert ids("buyers", stores=None) == [zofia.pk, w.lorna.pk, w.anna.pk]
