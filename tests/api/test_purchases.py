"""POST /api/v1/purchases: a sale from the POS, idempotent by its external id."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine

from tests.api.conftest import ApiClient, problems
from touchflow.customers.models import Customer
from touchflow.purchases.models import Purchase
from touchflow.stores.models import Store
from touchflow.timeline.models import TimelineEvent
from touchflow.visits.models import Visit

NOON = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)

SALE = {
    "customer": {"phone": "+48 501 234 567", "external_id": "loyalty-77", "name": "Anna"},
    "amount": "1299.9",
    "occurred_at": "2025-03-14T10:00:00Z",
    "categories": ["sofas"],
    "items": [{"sku": "SOFA-1", "name": "Sofa Oslo", "quantity": 1, "unit_price": "1199.90"},
              {"sku": "PIL-2", "name": "Pillow", "quantity": 2, "unit_price": 50}],
    "external_id": "inv-2025-0001",
}


@pytest.fixture
def frozen() -> Any:
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


def test_records_a_purchase_for_a_new_customer(api: ApiClient, frozen: Any) -> None:
    response = api.post("/purchases", SALE)
    assert response.status_code == 201
    purchase = Purchase.objects.get()
    customer = Customer.objects.get()
    assert response.json() == {
        "id": purchase.pk,
        "store": "warsaw",
        "customer_id": customer.pk,
        "visit_id": None,
        "occurred_at": "2025-03-14T10:00:00Z",
        "amount": "1299.90",
        "currency": "PLN",
        "categories": ["sofas"],
        "items": [
            {"sku": "SOFA-1", "name": "Sofa Oslo", "quantity": 1, "unit_price": "1199.90"},
            {"sku": "PIL-2", "name": "Pillow", "quantity": 2, "unit_price": "50.00"},
        ],
        "external_id": "inv-2025-0001",
        "created_at": "2025-03-14T12:00:00Z",
    }
    assert (customer.external_id_in(customer.home_store_id), customer.name) == (
        "loyalty-77", "Anna")
    assert (purchase.source, str(purchase.amount)) == ("api", "1299.90")
    assert TimelineEvent.objects.filter(kind="purchase", purchase=purchase).count() == 1


def test_a_replay_answers_200_and_creates_nothing(api: ApiClient, frozen: Any) -> None:
    first = api.post("/purchases", SALE)
    # Even with another customer in it, a replay must not create that customer.
    again = api.post("/purchases", {**SALE, "customer": {"email": "someone@else.com"}})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Purchase.objects.count() == 1
    assert Customer.objects.count() == 1


def test_by_customer_id_with_a_visit_and_a_numeric_amount(api: ApiClient, frozen: Any) -> None:
    visit = api.post("/visits", {"bought": True, "contact_capture": "taken",
                                 "customer": {"email": "ola@example.com"}}).json()
    response = api.post("/purchases", {"customer_id": visit["customer_id"], "amount": 12.5,
                                       "currency": "eur", "visit_id": visit["id"]})
    assert response.status_code == 201
    body = response.json()
    assert (body["customer_id"], body["visit_id"], body["amount"], body["currency"]) == (
        visit["customer_id"], visit["id"], "12.50", "EUR")
    assert (body["occurred_at"], body["external_id"], body["items"]) == (
        "2025-03-14T12:00:00Z", None, [])


def test_the_customer_is_found_by_a_phone_in_another_format(api: ApiClient) -> None:
    api.post("/customers", {"phone": "+48501234567"})
    response = api.post("/purchases", {"customer": {"phone": "501 234 567"}, "amount": "5"})
    assert response.status_code == 201
    assert Customer.objects.count() == 1
    assert response.json()["customer_id"] == Customer.objects.get().pk


def test_a_refused_purchase_leaves_no_new_customer(api: ApiClient, frozen: Any) -> None:
    response = api.post("/purchases", {"customer": {"phone": "501234567"}, "amount": "-5"})
    assert response.status_code == 422
    assert problems(response) == [("amount", "out_of_range")]
    response = api.post("/purchases", {"customer": {"phone": "501234567"}, "amount": "5",
                                       "occurred_at": "2025-03-15T12:00:00Z"})
    assert problems(response) == [("occurred_at", "in_future")]
    assert Customer.objects.count() == 0
    assert Purchase.objects.count() == 0


def test_who_the_customer_is_must_be_said_once(api: ApiClient) -> None:
    response = api.post("/purchases", {"amount": "5"})
    assert (response.status_code, problems(response)) == (422, [("customer_id", "required")])
    response = api.post("/purchases", {"amount": "5", "customer_id": 1,
                                       "customer": {"phone": "501234567"}})
    assert (response.status_code, problems(response)) == (422, [("customer", "conflict")])
    response = api.post("/purchases", {"amount": "5", "customer": {"name": "No contacts"}})
    assert (response.status_code, problems(response)) == (422, [("customer", "required")])
    assert Purchase.objects.count() == 0


def test_a_visit_of_another_store_is_not_found(
    open_api: ApiClient, store: Store, make_store: Callable[..., Store]
) -> None:
    make_store(slug="krakow")
    visit = open_api.post("/visits", {"store": "krakow", "bought": True,
                                      "contact_capture": "refused"}).json()
    response = open_api.post("/purchases", {"store": "warsaw", "amount": "5",
                                            "customer": {"phone": "501234567"},
                                            "visit_id": visit["id"]})
    assert response.status_code == 404
    assert problems(response) == [("visit_id", "not_found")]
    assert Visit.objects.count() == 1
    assert Customer.objects.count() == 0


def test_recording_a_purchase_takes_a_bounded_number_of_queries(
    api: ApiClient, django_assert_max_num_queries: Any
) -> None:
    customer_id = api.post("/customers", {"phone": "501234567"}).json()["id"]
    # The API: token, customer, store check; the rest is the action's (its replay
    # check, insert, store link, timeline row, savepoints), and two reads for the chains
    # (active enrollments that a purchase ends, active purchase chains).
    with django_assert_max_num_queries(15):
        response = api.post("/purchases", {"customer_id": customer_id, "amount": "5",
                                           "external_id": "inv-9"})
        assert response.status_code == 201
    # A repeat: the token, the customer as the token may see it (as for a visit), the
    # action's replay check — and nothing written.
    with django_assert_max_num_queries(4):
        response = api.post("/purchases", {"customer_id": customer_id, "amount": "5",
                                           "external_id": "inv-9"})
        assert response.status_code == 200
