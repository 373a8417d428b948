"""What a store sees of a customer another store also knows (decision 0008)."""

from __future__ import annotations

import importlib
from collections.abc import Callable

import pytest
from django.apps import apps
from django.test import Client

from touchflow.customers import visibility
from touchflow.customers.actions import ConsentGrant, ContactInput
from touchflow.customers.models import (
    ConsentEvent,
    ContactPoint,
    ContactPointStore,
    Customer,
    CustomerStore,
)
from touchflow.funnel.customers import resolve_customer
from touchflow.funnel.optout import opt_out
from touchflow.funnel.visits import log_visit
from touchflow.integrations.actor import Actor
from touchflow.stores.models import Role, Staff, Store

backfill = importlib.import_module(
    "touchflow.customers.migrations.0006_isolation_store_of_origin").backfill


@pytest.fixture
def london(make_store: Callable[..., Store]) -> Store:
    return make_store(name="Londinium", slug="london", country="GB", time_zone="Europe/London")


@pytest.fixture
def shared(store: Store, london: Store, make_staff: Callable[..., Staff]) -> Customer:
    """London logged a visit with phone and e-mail; Warsaw then gave the e-mail and a phone."""
    ldn = make_staff(Role.SALESPERSON, [london], username="ldnseller", first_name="Ldnseller")
    log_visit(store=london, actor=Actor(source="counter", staff=ldn), bought=False,
              reason="just_looking", contact_capture="taken", name="Lorna London",
              note="London's note", contacts=[ContactInput("phone", "+447911123456"),
                                              ContactInput("email", "lorna@example.com")],
              consent=ConsentGrant(contact=True, marketing=True))
    visit, _ = log_visit(store=store, actor=Actor(source="api"), bought=True,
                         contact_capture="taken", name="Lorna Warsaw",
                         contacts=[ContactInput("email", "lorna@example.com"),
                                   ContactInput("phone", "+48501234567")],
                         consent=ConsentGrant(contact=True, marketing=False))
    assert visit.customer is not None
    return visit.customer


def test_the_customer_page_shows_what_the_viewers_stores_recorded(
    shared: Customer, salesperson: Staff, make_staff: Callable[..., Staff],
) -> None:
    client = Client()
    client.force_login(salesperson)
    html = client.get(f"/customers/{shared.pk}/").content.decode()
    assert "Lorna Warsaw" in html and "+48501234567" in html and "lorna@example.com" in html
    for london_only in ("Lorna London", "+447911123456", "Ldnseller", "Londinium"):
        assert london_only not in html
    admin = make_staff(Role.ADMIN)
    client.force_login(admin)
    everything = client.get(f"/customers/{shared.pk}/").content.decode()
    assert "+447911123456" in everything and "Ldnseller" in everything


def test_consent_shown_is_the_one_the_store_recorded(shared: Customer, store: Store,
                                                     london: Store) -> None:
    email = ContactPoint.objects.get(value="lorna@example.com")
    warsaw = visibility.view_of(shared, frozenset({store.pk}))
    ldn = visibility.view_of(shared, frozenset({london.pk}))
    seen = {c.point.value: c.consent for c in warsaw.contacts}
    assert (seen["lorna@example.com"].contact, seen["lorna@example.com"].marketing) == (True,
                                                                                        False)
    seen = {c.point.value: c.consent for c in ldn.contacts}
    assert (seen["lorna@example.com"].contact, seen["lorna@example.com"].marketing) == (True,
                                                                                        True)
    # The effective state is London's offer consent withdrawn by Warsaw's later answer.
    email.refresh_from_db()
    assert (email.contact_consent, email.marketing_consent) == (True, False)


def test_the_customers_own_stop_is_seen_by_every_store_that_knows_the_contact(
    shared: Customer, store: Store, london: Store
) -> None:
    opt_out(shared.pk, "email", all_channels=False)
    for stores in (frozenset({store.pk}), frozenset({london.pk})):
        seen = {c.point.value: c.consent for c in visibility.view_of(shared, stores).contacts}
        assert (seen["lorna@example.com"].contact, seen["lorna@example.com"].marketing) == (
            False, False)


def test_names_stay_with_the_store_that_gave_them(shared: Customer, store: Store,
                                                  london: Store) -> None:
    assert visibility.names_of([shared], frozenset({store.pk})) == {shared.pk: "Lorna Warsaw"}
    assert visibility.names_of([shared], frozenset({london.pk})) == {shared.pk: "Lorna London"}
    assert visibility.names_of([shared], None) == {shared.pk: "Lorna Warsaw"}


def test_search_finds_only_by_what_the_store_recorded(shared: Customer,
                                                      salesperson: Staff) -> None:
    client = Client()
    client.force_login(salesperson)
    for query, found in (("Lorna Warsaw", True), ("Lorna London", False),
                         ("+447911123456", False), ("lorna@example.com", True)):
        html = client.get("/customers/", {"q": query}).content.decode()
        assert (f'href="/customers/{shared.pk}/"' in html) is found, query


def test_a_store_that_never_met_the_customer_sees_nothing(
    shared: Customer, make_store: Callable[..., Store], make_staff: Callable[..., Staff]
) -> None:
    krakow = make_store(name="Krakow", slug="krakow")
    seller = make_staff(Role.SALESPERSON, [krakow])
    client = Client()
    client.force_login(seller)
    assert client.get(f"/customers/{shared.pk}/").status_code == 404
    assert client.post(f"/customers/{shared.pk}/reply", {"channel": "sms",
                                                         "text": "hi"}).status_code == 404


def test_the_migration_backfills_stores_from_the_records(
    shared: Customer, store: Store, london: Store
) -> None:
    ContactPointStore.objects.all().delete()
    ConsentEvent.objects.update(store=None)
    CustomerStore.objects.update(name=None)
    imported = Customer.objects.create(name="Imported Ian", home_store=london,
                                       created_at=shared.created_at)
    ContactPoint.objects.create(customer=imported, kind="phone", value="+447911123789",
                                created_at=shared.created_at)

    backfill(apps, None)

    # Consent events take the store of the visit logged at the same moment.
    stores = set(ConsentEvent.objects.values_list("contact_point__value", "store__slug"))
    assert stores == {("+447911123456", "london"), ("lorna@example.com", "london"),
                      ("lorna@example.com", "warsaw"), ("+48501234567", "warsaw")}
    links = set(ContactPointStore.objects.values_list("contact_point__value", "store__slug"))
    assert links == stores | {("+447911123789", "london")}
    names = set(CustomerStore.objects.values_list("customer__name", "store__slug", "name"))
    assert names == {("Lorna Warsaw", "london", "Lorna Warsaw"), ("Lorna Warsaw", "warsaw", "")}


def test_a_contact_of_an_imported_customer_belongs_to_the_home_store(
    london: Store, store: Store
) -> None:
    """The importer writes contact points without store links: the home store's."""
    customer, _ = resolve_customer(store=london, actor=Actor(source="import"),
                                   contacts=[ContactInput("phone", "+447911123789")])
    ContactPointStore.objects.all().delete()
    assert [p.value for p in visibility.visible_points(customer, frozenset({london.pk}))] == [
        "+447911123789"]
    assert visibility.visible_points(customer, frozenset({store.pk})) == []
