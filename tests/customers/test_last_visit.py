"""A store link keeps the customer's latest visit to that store (decision 0027): written
with the link by every visit, carried by a merge, backfilled by migration 0013 — and
always equal to a recount from the visits."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext

from tests.conftest import FIXED_NOW
from touchflow.customers.actions import ContactInput
from touchflow.customers.models import Customer, CustomerStore
from touchflow.funnel.customers import merge_customers, resolve_customer
from touchflow.funnel.visits import log_visit
from touchflow.integrations.actor import Actor
from touchflow.stores.models import Role, Staff, Store
from touchflow.visits.models import Visit

MIGRATION = importlib.import_module(
    "touchflow.customers.migrations.0013_customer_store_last_visit")
BEFORE = ("customers", "0012_store_references_kept_by_django")

CAPTURE = {"type1": (True, "taken"), "type2": (True, "refused"), "type3": (False, "taken"),
           "type4": (False, "refused"), "grey": (False, "not_attempted")}

Kept = tuple[datetime | None, str, int | None]


def visit(store: Store, seller: Staff | None, visit_class: str, at: datetime, *,
          customer: Customer | None = None, phone: str = "", name: str = "") -> Customer:
    bought, capture = CAPTURE[visit_class]
    contacts = [ContactInput("phone", phone)] if phone else []
    logged, _ = log_visit(store=store, actor=Actor(source="api"), staff=seller, bought=bought,
                          reason=None if bought else "just_looking", contact_capture=capture,
                          occurred_at=at, customer=customer, contacts=contacts, name=name)
    assert logged.customer is not None
    return logged.customer


def kept() -> dict[tuple[int, int], Kept]:
    """What every link keeps of the last visit."""
    return {(link.customer_id, link.store_id): (link.last_visit_at, link.last_visit_class,
                                                link.last_visit_staff_id)
            for link in CustomerStore.objects.all()}


def recount() -> dict[tuple[int, int], Kept]:
    """The same, recomputed from the visits: per customer and store, the visit latest by
    (time, id); a link without a visit keeps nothing."""
    found: dict[tuple[int, int], Kept] = {
        key: (None, "", None) for key in CustomerStore.objects.values_list("customer_id",
                                                                           "store_id")}
    latest: dict[tuple[int, int], tuple[datetime, int]] = {}
    for v in Visit.objects.filter(customer__isnull=False):
        assert v.customer_id is not None
        key = (v.customer_id, v.store_id)
        if key not in latest or (v.occurred_at, v.pk) > latest[key]:
            latest[key] = (v.occurred_at, v.pk)
            found[key] = (v.occurred_at, v.visit_class, v.staff_id)
    return found


@pytest.fixture
def world(store: Store, make_store: Callable[..., Store],
          make_staff: Callable[..., Staff]) -> dict[str, Any]:
    """Visits at two stores, out of order, a merge, a customer without a visit."""
    krakow = make_store(name="Kraków", slug="krakow")
    sam = make_staff(Role.SALESPERSON, [store], username="sam")
    ola = make_staff(Role.SALESPERSON, [krakow], username="ola")
    day = FIXED_NOW - timedelta(days=30)
    anna = visit(store, sam, "type3", day, phone="+48501000001", name="Anna")
    visit(store, sam, "grey", day - timedelta(days=2), customer=anna)  # logged late: older
    visit(krakow, ola, "type1", day + timedelta(days=1), customer=anna)
    visit(store, sam, "type4", day + timedelta(days=3), customer=anna)  # replaces type3
    visit(store, None, "grey", day + timedelta(days=3), customer=anna)  # same instant: later id
    bolek = visit(krakow, ola, "type3", day + timedelta(days=4), phone="+48501000002")
    # Two records of one person: Kraków's later visit and Warsaw's earlier one meet.
    cyryl = visit(store, sam, "type1", day + timedelta(days=5), phone="+48501000003")
    dup = visit(krakow, ola, "type3", day + timedelta(days=6), phone="+48501000004")
    visit(store, sam, "type2", day + timedelta(days=2), customer=dup)
    merge_customers(cyryl, dup, Actor(source="api"))
    ewa, _ = resolve_customer(store=store, actor=Actor(source="api"), name="Ewa",
                              contacts=[ContactInput("phone", "+48501000005")])
    return {"krakow": krakow, "sam": sam, "ola": ola, "anna": anna, "bolek": bolek,
            "cyryl": cyryl, "ewa": ewa, "day": day}


def test_the_links_keep_the_latest_visit_per_store(store: Store, world: dict[str, Any]) -> None:
    day, krakow, sam, ola = world["day"], world["krakow"], world["sam"], world["ola"]
    links = kept()
    assert links[(world["anna"].pk, store.pk)] == (day + timedelta(days=3), "grey", None)
    assert links[(world["anna"].pk, krakow.pk)] == (day + timedelta(days=1), "type1", ola.pk)
    assert links[(world["bolek"].pk, krakow.pk)] == (day + timedelta(days=4), "type3", ola.pk)
    # The merge kept, per store, the later of the two records' last visits.
    assert links[(world["cyryl"].pk, store.pk)] == (day + timedelta(days=5), "type1", sam.pk)
    assert links[(world["cyryl"].pk, krakow.pk)] == (day + timedelta(days=6), "type3", ola.pk)
    assert links[(world["ewa"].pk, store.pk)] == (None, "", None)
    assert links == recount()


def test_a_later_visit_replaces_the_kept_one_and_an_earlier_one_does_not(
    store: Store, world: dict[str, Any],
) -> None:
    anna, day, sam = world["anna"], world["day"], world["sam"]
    visit(store, sam, "type1", day - timedelta(days=9), customer=anna)
    assert kept()[(anna.pk, store.pk)] == (day + timedelta(days=3), "grey", None)
    visit(store, sam, "type1", day + timedelta(days=9), customer=anna)
    assert kept()[(anna.pk, store.pk)] == (day + timedelta(days=9), "type1", sam.pk)
    assert kept() == recount()


def test_the_recount_sees_a_link_written_around_the_visits(
    store: Store, world: dict[str, Any],
) -> None:
    """The comparison can fail: a link updated without its visit differs."""
    CustomerStore.objects.filter(customer=world["bolek"]).update(last_visit_class="type1")
    assert kept() != recount()


def test_the_migration_backfill_recounts_every_link(store: Store, world: dict[str, Any]) -> None:
    expected = recount()
    CustomerStore.objects.update(last_visit_at=None, last_visit_class="",
                                 last_visit_staff=None)
    with connection.cursor() as cursor:
        cursor.execute(MIGRATION.BACKFILL)
    assert kept() == expected
    assert sum(1 for at, _c, _s in expected.values() if at is not None) == 5


def test_logging_a_visit_of_a_known_customer_writes_the_link_in_one_statement(
    store: Store, world: dict[str, Any],
) -> None:
    """The visit rides on the update every visit already made of the link: no statement
    of its own (the visit API's query counts stay as they were)."""
    anna, sam = world["anna"], world["sam"]
    with CaptureQueriesContext(connection) as captured:
        visit(store, sam, "type4", FIXED_NOW - timedelta(hours=1), customer=anna)
    links = [q["sql"] for q in captured.captured_queries if "customers_customerstore" in q["sql"]]
    assert len(links) == 1 and links[0].startswith("UPDATE")
    assert kept()[(anna.pk, store.pk)] == (FIXED_NOW - timedelta(hours=1), "type4", sam.pk)


@pytest.mark.django_db(transaction=True)
def test_upgrading_backfills_the_links_from_the_visits(
    store: Store, world: dict[str, Any],
) -> None:
    expected = recount()
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert kept() == expected
