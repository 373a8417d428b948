"""A store-bound token learns nothing another store recorded (decision 0008)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.api.conftest import ApiClient
from touchflow.customers.actions import ConsentGrant, ContactInput
from touchflow.customers.models import Customer, CustomerStore
from touchflow.funnel.customers import resolve_customer
from touchflow.integrations.actor import Actor
from touchflow.stores.models import Store


@pytest.fixture
def london(make_store: Callable[..., Store]) -> Store:
    return make_store(name="London", slug="london", country="GB", time_zone="Europe/London")


@pytest.fixture
def londoner(london: Store) -> Customer:
    customer, _ = resolve_customer(
        store=london, actor=Actor(source="api"), name="Lorna Secret", external_id="LDN-1",
        tags=["vip"], contacts=[ContactInput("email", "lorna@example.com"),
                                ContactInput("phone", "+447911123456")],
        consent=ConsentGrant(contact=True, marketing=True),
    )
    return customer


def test_another_stores_email_links_the_person_but_tells_nothing_of_theirs(
    api: ApiClient, store: Store, londoner: Customer
) -> None:
    first = api.post("/customers", {"email": "Lorna@Example.com"})
    again = api.post("/customers", {"email": "lorna@example.com"})
    assert (first.status_code, again.status_code) == (201, 200)  # new to Warsaw, then known
    body = first.json()
    assert body["id"] == londoner.pk
    assert (body["name"], body["external_id"], body["home_store"], body["tags"]) == (
        "", None, None, [])
    # Only the e-mail Warsaw typed, with the consent Warsaw recorded (none).
    assert body["contacts"] == [{"kind": "email", "network": "", "value": "lorna@example.com",
                                 "consent": {"contact": None, "marketing": None,
                                             "updated_at": None}}]
    assert CustomerStore.objects.filter(customer=londoner, store=store).exists()
    detail = api.get(f"/customers/{londoner.pk}").json()
    assert "Lorna Secret" not in str(detail) and "+447911123456" not in str(detail)
    assert [e["kind"] for e in detail["timeline"]] == []  # London's rows all stay London's


def test_consent_and_name_given_here_are_what_this_store_sees(
    api: ApiClient, londoner: Customer
) -> None:
    body = api.post("/customers", {"email": "lorna@example.com", "name": "Lorna W.",
                                   "consent": {"contact": True, "marketing": False}}).json()
    assert body["name"] == "Lorna W."
    assert body["contacts"][0]["consent"]["contact"] is True
    assert body["contacts"][0]["consent"]["marketing"] is False
    kinds = [e["kind"] for e in api.get(f"/customers/{londoner.pk}").json()["timeline"]]
    assert kinds == ["consent", "consent"]  # Warsaw's own, nothing of London's


def test_finding_by_a_contact_only_this_store_recorded(
    api: ApiClient, londoner: Customer
) -> None:
    api.post("/customers", {"email": "lorna@example.com"})  # now Warsaw's customer too
    assert api.get("/customers", {"email": "lorna@example.com"}).json()["count"] == 1
    # The phone London took does not find them for Warsaw, nor does London's external id.
    assert api.get("/customers", {"phone": "+447911123456"}).json()["count"] == 0
    assert api.get("/customers", {"external_id": "LDN-1"}).json()["count"] == 0


def test_an_unbound_token_sees_everything(open_api: ApiClient, londoner: Customer) -> None:
    body = open_api.get(f"/customers/{londoner.pk}").json()
    assert (body["name"], body["external_id"], body["home_store"]) == (
        "Lorna Secret", "LDN-1", "london")
    assert {c["value"] for c in body["contacts"]} == {"lorna@example.com", "+447911123456"}


def test_the_home_store_keeps_its_own_name_when_another_store_renames(
    make_api: Callable[..., ApiClient], api: ApiClient, london: Store, londoner: Customer
) -> None:
    api.post("/customers", {"email": "lorna@example.com", "name": "Warsaw Name"})
    london_api = make_api(london)
    assert london_api.get(f"/customers/{londoner.pk}").json()["name"] == "Lorna Secret"
    assert "Warsaw Name" not in london_api.get(f"/customers/{londoner.pk}").content.decode()


def test_a_purchase_for_another_stores_person_answers_only_the_purchase(
    api: ApiClient, londoner: Customer
) -> None:
    response = api.post("/purchases", {"customer": {"email": "lorna@example.com"},
                                       "amount": "5.00"})
    assert response.status_code == 201
    assert response.json()["customer_id"] == londoner.pk
    assert "Lorna" not in response.content.decode()
