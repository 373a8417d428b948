"""Relationship health's fixtures: customers, purchases, visits and two-way contacts
written through the real actions, on days counted back from ``TODAY`` in the store's zone
(the suite's clock stands at 2026-06-02 12:00 UTC, 14:00 in Warsaw)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from touchflow.customers.actions import ConsentGrant, ContactInput
from touchflow.customers.models import Customer, CustomerStore
from touchflow.funnel.customers import resolve_customer
from touchflow.funnel.purchases import record_purchase
from touchflow.funnel.visits import log_visit
from touchflow.integrations.actor import Actor
from touchflow.purchases.models import Purchase
from touchflow.stores.models import Role, Staff, Store
from touchflow.timeline import events

TODAY = date(2026, 6, 2)


def at(store: Store, days_ago: int, hour: int = 12) -> datetime:
    """``hour`` o'clock on the store's calendar, ``days_ago`` days before ``TODAY``."""
    day = TODAY - timedelta(days=days_ago)
    return datetime.combine(day, time(hour), tzinfo=ZoneInfo(store.time_zone))


@dataclass
class People:
    """Writes a store's history the way the counter, the till and the messengers do."""

    seller: Callable[[Store], Staff]
    made: int = 0

    def customer(self, store: Store, name: str = "", phone: str = "") -> Customer:
        self.made += 1
        phone = phone or f"+4850100{self.made:04d}"
        found, _created = resolve_customer(
            store=store, actor=Actor(source="api"), contacts=[ContactInput("phone", phone)],
            name=name or f"Customer {self.made}", consent=ConsentGrant(True, True))
        return found

    def buys(self, store: Store, customer: Customer, *days_ago: int) -> Customer:
        for days in days_ago:
            record_purchase(store=store, actor=Actor(source="api"), customer=customer,
                            amount=Decimal("10.00"), occurred_at=at(store, days))
        return customer

    def visits(self, store: Store, phone: str, *days_ago: int) -> Customer:
        """Visits without a purchase, the customer leaving ``phone`` each time."""
        found = None
        for days in days_ago:
            visit, _ = log_visit(
                store=store, actor=Actor(source="counter", staff=self.seller(store)),
                bought=False, reason="just_looking", contact_capture="taken",
                contacts=[ContactInput("phone", phone)], occurred_at=at(store, days),
                consent=ConsentGrant(True, True))
            found = visit.customer
        assert found is not None
        return found

    def writes(self, store: Store, customer: Customer, days_ago: int, stop: bool = False
               ) -> None:
        """A message from the customer (a STOP when ``stop``)."""
        if stop:
            events.stop_requested(customer.pk, at(store, days_ago), store_id=store.pk,
                                  channel="sms", how="text", chains=0, text="STOP")
        else:
            events.message_received(customer.pk, at(store, days_ago), store_id=store.pk,
                                    channel="sms", text="hello", sender="+48501000000")


def bulk(store: Store, histories: list[list[int]]) -> dict[Customer, list[int]]:
    """Customers with these purchase days (days before ``TODAY``), written in bulk (the
    actions would take minutes for this many purchases)."""
    made = Customer.objects.bulk_create([
        Customer(name=f"Bulk {i}", home_store=store, created_at=at(store, 400))
        for i in range(len(histories))])
    CustomerStore.objects.bulk_create([
        CustomerStore(customer=c, store=store, first_seen_at=at(store, 400),
                      last_seen_at=at(store, 0), name=c.name) for c in made])
    Purchase.objects.bulk_create([
        Purchase(customer=customer, store=store, occurred_at=at(store, day), amount=10,
                 currency="PLN", source="import", created_at=at(store, 0))
        for customer, days in zip(made, histories, strict=True) for day in days])
    return dict(zip(made, histories, strict=True))


@pytest.fixture(name="people")
def people_fixture(make_staff: Callable[..., Staff]) -> People:
    sellers: dict[int, Staff] = {}

    def seller(store: Store) -> Staff:
        if store.pk not in sellers:
            sellers[store.pk] = make_staff(Role.SALESPERSON, [store])
        return sellers[store.pk]

    return People(seller)


@pytest.fixture(name="krakow")
def krakow_fixture(make_store: Callable[..., Store]) -> Store:
    return make_store(name="Krakow Rynek", slug="krakow")
