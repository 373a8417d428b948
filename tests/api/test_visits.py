"""POST /api/v1/visits: the result of a visit, idempotent by the POS's external id."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine

from tests.api.conftest import ApiClient, problems
from touchflow.customers.actions import ContactInput
from touchflow.customers.models import ContactPoint, Customer
from touchflow.funnel.customers import merge_customers, resolve_customer
from touchflow.integrations.actor import Actor
from touchflow.stores.models import Category, Staff, Store
from touchflow.timeline.models import TimelineEvent
from touchflow.visits.models import Visit

NOON = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)

BOUGHT_TAKEN = {
    "staff": "sam",
    "occurred_at": "2025-03-14T11:30:00Z",
    "bought": True,
    "contact_capture": "taken",
    "customer": {"name": "Anna Nowak", "phone": "501 234 567", "email": "Anna@Example.COM",
                 "consent": {"contact": True, "marketing": True}},
    "categories": ["sofas"],
    "note": " wants a grey one ",
    "external_id": "pos-123",
}


@pytest.fixture
def frozen() -> Any:
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


def test_logs_a_visit_and_answers_201_with_it(
    api: ApiClient, salesperson: Staff, categories: list[Category], frozen: Any
) -> None:
    response = api.post("/visits", BOUGHT_TAKEN)
    assert response.status_code == 201
    visit = Visit.objects.get()
    customer = Customer.objects.get()
    assert response.json() == {
        "id": visit.pk,
        "store": "warsaw",
        "staff": "sam",
        "customer_id": customer.pk,
        "occurred_at": "2025-03-14T11:30:00Z",
        "bought": True,
        "contact_capture": "taken",
        "reason": None,
        "visit_class": "type1",
        "categories": ["sofas"],
        "note": "wants a grey one",
        "external_id": "pos-123",
        "created_at": "2025-03-14T12:00:00Z",
    }
    assert (visit.source, visit.staff, visit.customer) == ("api", salesperson, customer)
    assert customer.name == "Anna Nowak"
    points = {(p.kind, p.value, p.contact_consent, p.marketing_consent)
              for p in ContactPoint.objects.all()}
    assert points == {("phone", "+48501234567", True, True),
                      ("email", "anna@example.com", True, True)}


def test_the_same_external_id_again_answers_200_with_the_first_visit(
    api: ApiClient, salesperson: Staff, categories: list[Category], frozen: Any
) -> None:
    first = api.post("/visits", BOUGHT_TAKEN)
    frozen.shift(60)
    # A repeat is the same visit even if the till changed its mind about the details.
    again = api.post("/visits", {**BOUGHT_TAKEN, "bought": False, "reason": "just_looking"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Visit.objects.count() == 1
    assert Customer.objects.count() == 1
    assert TimelineEvent.objects.filter(kind="visit").count() == 1


def test_external_ids_are_per_store(
    open_api: ApiClient, store: Store, make_store: Callable[..., Store]
) -> None:
    make_store(slug="krakow")
    body = {"bought": False, "contact_capture": "not_attempted", "reason": "too_passive",
            "external_id": "till-1"}
    a = open_api.post("/visits", {**body, "store": "warsaw"})
    b = open_api.post("/visits", {**body, "store": "krakow"})
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.json()["id"] != b.json()["id"]
    assert b.json()["visit_class"] == "grey"


def test_a_refused_non_buyer_has_a_reason_and_no_customer(api: ApiClient, frozen: Any) -> None:
    response = api.post("/visits", {"bought": False, "contact_capture": "refused",
                                    "reason": "price_difference"})
    assert response.status_code == 201
    body = response.json()
    assert (body["visit_class"], body["reason"], body["customer_id"], body["staff"]) == (
        "type4", "price_difference", None, None)
    assert body["occurred_at"] == "2025-03-14T12:00:00Z"
    assert Customer.objects.count() == 0


def test_a_time_without_offset_is_the_stores_local_time(api: ApiClient, frozen: Any) -> None:
    # Warsaw is UTC+1 in March (before the clocks change).
    response = api.post("/visits", {"bought": True, "contact_capture": "refused",
                                    "occurred_at": "2025-03-14T09:15:00"})
    assert response.json()["occurred_at"] == "2025-03-14T08:15:00Z"


def test_an_existing_customer_by_id_and_a_merged_id_resolves(
    api: ApiClient, store: Store, frozen: Any
) -> None:
    actor = Actor(source="counter")
    survivor, _ = resolve_customer(store=store, actor=actor,
                                   contacts=[ContactInput("phone", "+48501234567")])
    merged, _ = resolve_customer(store=store, actor=actor,
                                 contacts=[ContactInput("email", "o@example.com")])
    merge_customers(survivor, merged, actor)
    response = api.post("/visits", {"bought": True, "contact_capture": "refused",
                                    "customer": {"id": merged.pk}})
    assert response.status_code == 201
    assert response.json()["customer_id"] == survivor.pk
    response = api.post("/visits", {"bought": True, "contact_capture": "refused",
                                    "customer": {"id": 987654}})
    assert response.status_code == 404
    assert problems(response) == [("customer.id", "not_found")]


def test_the_same_phone_in_two_formats_is_one_customer(api: ApiClient, frozen: Any) -> None:
    for phone in ["+48 501-234-567", "0048501234567", "501234567"]:
        response = api.post("/visits", {"bought": False, "contact_capture": "taken",
                                        "reason": "just_looking", "customer": {"phone": phone}})
        assert response.status_code == 201
    assert Customer.objects.count() == 1
    assert list(ContactPoint.objects.values_list("value", flat=True)) == ["+48501234567"]
    assert Visit.objects.filter(customer=Customer.objects.get()).count() == 3


def test_a_seller_of_another_store_is_refused(
    api: ApiClient, make_staff: Callable[..., Staff], make_store: Callable[..., Store]
) -> None:
    make_staff(stores=[make_store(slug="krakow")], username="kasia")
    response = api.post("/visits", {"bought": True, "contact_capture": "refused",
                                    "staff": "kasia"})
    assert response.status_code == 422
    assert problems(response) == [("staff", "not_allowed")]
    response = api.post("/visits", {"bought": True, "contact_capture": "refused",
                                    "staff": "nobody"})
    assert problems(response) == [("staff", "not_found")]
    assert Visit.objects.count() == 0


def test_logging_a_visit_takes_a_bounded_number_of_queries(
    api: ApiClient, salesperson: Staff, categories: list[Category],
    django_assert_max_num_queries: Any
) -> None:
    api.get("/reasons")  # the once-a-minute write of last_used_at is not the point here
    # A new customer with two contacts, both purposes consented: the API adds two
    # queries (token, staff); the rest is the domain's audit trail — per contact an
    # insert, a timeline row and, per purpose, a consent event, update and timeline row;
    # one more reads the active chains the visit may enter.
    with django_assert_max_num_queries(36):
        assert api.post("/visits", BOUGHT_TAKEN).status_code == 201
    with django_assert_max_num_queries(5):
        assert api.post("/visits", BOUGHT_TAKEN).status_code == 200
    # The commonest visit without contacts: auth, reason, insert (and its savepoint), and
    # its count for the dashboard (one appended row: timeline.figures).
    with django_assert_max_num_queries(6):
        response = api.post("/visits", {"bought": False, "contact_capture": "refused",
                                        "reason": "just_looking"})
        assert response.status_code == 201
