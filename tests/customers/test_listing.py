"""The customer list's reads (decision 0027): the plain-value visibility the CSV uses
says exactly what ``visibility.summaries`` says, and a customer known to several stores
is listed once, by the link of their latest visit among the viewer's stores."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db.models import Prefetch

from tests.conftest import FIXED_NOW
from touchflow.customers import listing, visibility
from touchflow.customers.actions import ContactInput
from touchflow.customers.models import ContactPoint, ContactPointStore, Customer, CustomerStore
from touchflow.funnel.customers import resolve_customer
from touchflow.funnel.visits import log_visit
from touchflow.integrations.actor import Actor
from touchflow.stores.models import Store


@pytest.fixture
def stores(store: Store, make_store: Callable[..., Store]) -> dict[str, Store]:
    return {"warsaw": store, "london": make_store(name="Londinium", slug="london"),
            "krakow": make_store(name="Kraków", slug="krakow")}


def _visit(store: Store, days_ago: float, contacts: list[ContactInput], name: str = "",
           customer: Customer | None = None) -> Customer:
    visit, _ = log_visit(store=store, actor=Actor(source="api"), bought=False,
                         reason="just_looking", contact_capture="taken", contacts=contacts,
                         name=name, customer=customer,
                         occurred_at=FIXED_NOW - timedelta(days=days_ago))
    assert visit.customer is not None
    return visit.customer


@pytest.fixture
def people(stores: dict[str, Store]) -> list[Customer]:
    """A person London met first and Warsaw later, by the e-mail London took; one the
    importer could have written (a home link without a name, a contact no store is
    linked to); one of Kraków's only."""
    shared = _visit(stores["london"], 9, [ContactInput("phone", "+447911123456"),
                                          ContactInput("email", "lorna@example.com")],
                    "Lorna London")
    _visit(stores["warsaw"], 2, [ContactInput("email", "lorna@example.com"),
                                 ContactInput("phone", "+48501234567")], "Lorna Warsaw")
    imported, _ = resolve_customer(store=stores["warsaw"], actor=Actor(source="api"),
                                   name="Ian Imported",
                                   contacts=[ContactInput("phone", "+48501234999"),
                                             ContactInput("telegram", "@ian_imp")])
    CustomerStore.objects.filter(customer=imported).update(name=None)
    ContactPointStore.objects.filter(contact_point__customer=imported).delete()
    krakow = _visit(stores["krakow"], 1, [ContactInput("phone", "+48501234000")], "Kai")
    return [shared, imported, krakow]


@pytest.mark.parametrize("viewer", [None, ("warsaw",), ("london",), ("warsaw", "london"),
                                    ("krakow",), ("warsaw", "london", "krakow")])
def test_plain_summaries_say_what_summaries_say(
    stores: dict[str, Store], people: list[Customer], viewer: tuple[str, ...] | None,
) -> None:
    seen = None if viewer is None else frozenset(stores[s].pk for s in viewer)
    customers = list(Customer.objects.filter(pk__in=[c.pk for c in people]).prefetch_related(
        Prefetch("contacts", queryset=ContactPoint.objects.order_by("kind", "id"))))
    expected = {s.customer.pk: (s.name, [(p.kind, p.network, p.value) for p in s.points])
                for s in visibility.summaries(customers, seen)}
    plain = visibility.plain_summaries([(c.pk, c.home_store_id, c.name) for c in customers],
                                       seen)
    assert {pk: (p.name, p.points) for pk, p in plain.items()} == expected
    for customer in customers:
        assert plain[customer.pk].store_ids == visibility.view_of(customer, seen).store_ids


def test_plain_summaries_are_not_vacuous(stores: dict[str, Store],
                                         people: list[Customer]) -> None:
    shared = people[0]
    warsaw = visibility.plain_summaries([(shared.pk, shared.home_store_id, shared.name)],
                                        frozenset({stores["warsaw"].pk}))[shared.pk]
    assert warsaw.name == "Lorna Warsaw"
    assert sorted(v for _k, _n, v in warsaw.points) == ["+48501234567", "lorna@example.com"]


def test_a_customer_of_several_stores_is_listed_once_by_their_latest_visit(
    stores: dict[str, Store], people: list[Customer],
) -> None:
    shared = people[0]
    both = frozenset({stores["warsaw"].pk, stores["london"].pk})

    def listed(scope: frozenset[int] | None, **more: object) -> list[tuple[int, int]]:
        rows = listing.links(listing.Listing(stores=scope, sort="oldest", **more))  # type: ignore[arg-type]
        return [(link.customer_id, link.store_id) for link in rows]

    assert listed(both) == [(shared.pk, stores["warsaw"].pk),
                            (people[1].pk, stores["warsaw"].pk)]
    assert listed(None) == [(shared.pk, stores["warsaw"].pk),
                            (people[1].pk, stores["warsaw"].pk),
                            (people[2].pk, stores["krakow"].pk)]
    assert listed(both, store=stores["london"].pk) == [(shared.pk, stores["london"].pk)]
    # London visits again, later: now London's link stands for them.
    _visit(stores["london"], 0.5, [], customer=shared)
    assert listed(both)[0] == (shared.pk, stores["london"].pk)
    # Never visited anywhere in the scope: the later link stands, once.
    CustomerStore.objects.filter(customer=shared).update(last_visit_at=None)
    assert [pk for pk, _s in listed(both)].count(shared.pk) == 1
