"""/api/v1/customers: create-or-find, look up, read with contacts, consent and timeline."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine

from tests.api.conftest import ApiClient, problems
from touchflow.customers.models import ContactPoint, Customer
from touchflow.stores.models import Staff, Store

NOON = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)


@pytest.fixture
def frozen() -> Any:
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


def test_creates_a_customer_with_normalised_contacts(api: ApiClient, frozen: Any) -> None:
    response = api.post("/customers", {
        "name": "Anna Nowak", "phone": "501 234 567", "email": "Anna@Example.COM",
        "telegram": "@Anna_Nowak", "language": "en", "time_zone": "Europe/London",
        "tags": ["vip"], "external_id": "crm-1", "consent": {"contact": True, "marketing": False},
    })
    assert response.status_code == 201
    customer = Customer.objects.get()
    at = "2025-03-14T12:00:00Z"
    given = {"contact": True, "marketing": None, "updated_at": at}
    assert response.json() == {
        "id": customer.pk,
        "requested_id": customer.pk,
        "merged_into": None,
        "name": "Anna Nowak",
        "language": "en",
        "time_zone": "Europe/London",
        "country": "",
        "tags": ["vip"],
        "external_id": "crm-1",
        "home_store": "warsaw",
        "created_at": at,
        "contacts": [
            {"kind": "phone", "network": "", "value": "+48501234567", "consent": given},
            {"kind": "email", "network": "", "value": "anna@example.com", "consent": given},
            {"kind": "telegram", "network": "", "value": "@anna_nowak", "consent": given},
        ],
    }


def test_without_consent_nothing_is_recorded(api: ApiClient) -> None:
    body = api.post("/customers", {"email": "o@example.com"}).json()
    assert body["contacts"][0]["consent"] == {"contact": None, "marketing": None,
                                              "updated_at": None}
    assert body["language"] == "pl"  # the store's, when not given


def test_the_same_person_again_is_200_and_one_customer(api: ApiClient) -> None:
    first = api.post("/customers", {"phone": "+48 501-234-567"})
    again = api.post("/customers", {"phone": "0048501234567", "name": "Anna"})
    by_mail = api.post("/customers", {"email": "x@example.com", "external_id": "crm-9"})
    by_id = api.post("/customers", {"external_id": "crm-9", "email": "X@EXAMPLE.com"})
    assert [r.status_code for r in (first, again, by_mail, by_id)] == [201, 200, 201, 200]
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["name"] == "Anna"  # what was missing is filled in
    assert by_id.json()["id"] == by_mail.json()["id"]
    assert Customer.objects.count() == 2
    assert ContactPoint.objects.count() == 2


def test_contacts_of_two_customers_merge_them_and_the_old_id_resolves(
    api: ApiClient, frozen: Any
) -> None:
    anna = api.post("/customers", {"phone": "501234567", "name": "Anna"}).json()
    frozen.shift(60)
    mail = api.post("/customers", {"email": "anna@example.com"}).json()
    frozen.shift(60)
    both = api.post("/customers", {"phone": "501234567", "email": "anna@example.com"})
    assert both.status_code == 200
    assert both.json()["id"] == anna["id"]
    response = api.get(f"/customers/{mail['id']}")
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["requested_id"], body["merged_into"]) == (
        anna["id"], mail["id"], anna["id"])
    assert [c["value"] for c in body["contacts"]] == ["+48501234567", "anna@example.com"]
    assert body["timeline"][-1]["kind"] == "merged"
    assert body["timeline"][-1]["data"]["merged_customer"] == mail["id"]
    found = api.get("/customers", {"email": "ANNA@example.com"}).json()
    assert [c["id"] for c in found["results"]] == [anna["id"]]


def test_lookup_normalises_the_query_like_create(api: ApiClient, frozen: Any) -> None:
    created = api.post("/customers", {"phone": "+48501234567", "email": "ola@example.com",
                                      "external_id": "crm-5"}).json()
    for query in [{"phone": "501 234 567"}, {"phone": "+48 501 234 567"},
                  {"email": " OLA@example.com "}, {"external_id": "crm-5"}]:
        response = api.get("/customers", query)
        assert response.status_code == 200, query
        assert response.json() == {"count": 1, "results": [created]}, query
    assert api.get("/customers", {"phone": "501 234 568"}).json() == {"count": 0, "results": []}


def test_lookup_needs_something_to_look_for(api: ApiClient) -> None:
    response = api.get("/customers")
    assert (response.status_code, problems(response)) == (422, [("phone", "required")])
    response = api.get("/customers", {"phone": "not a phone"})
    assert (response.status_code, problems(response)) == (422, [("phone", "invalid_phone")])


def test_an_unbound_token_looks_up_in_the_named_stores_country(
    open_api: ApiClient, store: Store
) -> None:
    created = open_api.post("/customers", {"store": "warsaw", "phone": "501234567"}).json()
    found = open_api.get("/customers", {"store": "warsaw", "phone": "501234567"}).json()
    assert [c["id"] for c in found["results"]] == [created["id"]]
    # Without a store, a number with its country code still matches.
    found = open_api.get("/customers", {"phone": "+48501234567"}).json()
    assert [c["id"] for c in found["results"]] == [created["id"]]


def test_the_timeline_is_in_order_of_time(
    api: ApiClient, salesperson: Staff, frozen: Any
) -> None:
    customer = api.post("/customers", {"phone": "501234567"}).json()
    ref = {"id": customer["id"]}
    # Sent out of order: the timeline is ordered by when things happened.
    api.post("/visits", {"bought": True, "contact_capture": "taken", "customer": ref,
                         "staff": "sam", "occurred_at": "2025-03-14T11:00:00Z"})
    api.post("/visits", {"bought": False, "contact_capture": "taken", "customer": ref,
                         "reason": "just_looking", "occurred_at": "2025-03-10T09:00:00Z"})
    api.post("/purchases", {"customer_id": customer["id"], "amount": "10",
                            "occurred_at": "2025-03-12T10:00:00Z", "external_id": "i-1"})
    response = api.get(f"/customers/{customer['id']}")
    timeline = response.json()["timeline"]
    assert [(e["kind"], e["at"], e["store"], e["staff"]) for e in timeline] == [
        ("visit", "2025-03-10T09:00:00Z", "warsaw", None),
        ("purchase", "2025-03-12T10:00:00Z", "warsaw", None),
        ("visit", "2025-03-14T11:00:00Z", "warsaw", "sam"),
        ("customer_created", "2025-03-14T12:00:00Z", "warsaw", None),
        ("contact_added", "2025-03-14T12:00:00Z", None, None),
    ]
    assert timeline[1]["data"] == {"amount": "10.00", "currency": "PLN", "categories": [],
                                   "items": 0, "external_id": "i-1"}
    assert timeline[0]["data"] == {"class": "type3", "bought": False, "contacts": "taken",
                                   "reason": "just_looking", "categories": []}


def test_a_bound_token_sees_only_its_stores_events(
    api: ApiClient, make_api: Callable[..., ApiClient], make_store: Callable[..., Store]
) -> None:
    krakow = make_api(make_store(slug="krakow", country="PL"))
    customer = api.post("/customers", {"phone": "501234567"}).json()
    krakow.post("/visits", {"bought": True, "contact_capture": "taken",
                            "customer": {"phone": "+48501234567"}})
    mine = [e["store"] for e in api.get(f"/customers/{customer['id']}").json()["timeline"]]
    theirs = [(e["kind"], e["store"])
              for e in krakow.get(f"/customers/{customer['id']}").json()["timeline"]]
    assert "krakow" not in mine
    # Kraków's own: the consent it recorded when the phone was given there, and the visit.
    assert theirs == [("consent", "krakow"), ("visit", "krakow")]


def test_unknown_customer_is_404(api: ApiClient) -> None:
    response = api.get("/customers/424242")
    assert response.status_code == 404
    assert problems(response) == [("customer_id", "not_found")]
    for bad in ["0", "abc", "99999999999999999999"]:
        response = api.get(f"/customers/{bad}")
        assert response.status_code == 422, bad
        assert [f for f, _ in problems(response)] == ["customer_id"]


def test_reading_a_customer_costs_the_same_for_a_long_timeline(
    api: ApiClient, django_assert_max_num_queries: Any
) -> None:
    customer = api.post("/customers", {"phone": "501234567"}).json()
    for n in range(20):
        api.post("/purchases", {"customer_id": customer["id"], "amount": "1",
                                "external_id": f"i-{n}"})
    # Token, customer, store check, reload with contacts (2), what the store may see
    # (contact links, consent events, store links), timeline: none per timeline row.
    with django_assert_max_num_queries(9):
        response = api.get(f"/customers/{customer['id']}")
    assert len(response.json()["timeline"]) == 22


def test_reasons_list_the_active_codes_with_kind_and_labels(api: ApiClient) -> None:
    from touchflow.visits.models import Reason

    Reason.objects.filter(code="too_passive").update(active=False)
    response = api.get("/reasons")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["code"], r["kind"]) for r in results] == [
        ("credit_refused", "objective"),
        ("price_difference", "objective"),
        ("just_looking", "objective"),
        ("too_pushy", "seller_error"),
        ("wrong_sales_tool", "seller_error"),
        ("weak_product_knowledge", "seller_error"),
    ]
    assert results[2]["labels"] == {"en": "Just looking", "ru": "Просто смотрит",
                                    "pl": "Tylko ogląda"}


def test_categories_list(api: ApiClient, categories: list[Any]) -> None:
    assert api.get("/categories").json() == {"results": [
        {"code": "sofas", "labels": {"en": "Sofas", "ru": "Диваны", "pl": "Sofy"}},
        {"code": "tables", "labels": {"en": "Tables", "ru": "Столы", "pl": "Stoły"}},
    ]}
