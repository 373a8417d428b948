"""The API looks external ids up in the caller's store and shows the caller's id."""

from __future__ import annotations

from collections.abc import Callable

from touchflow.stores.models import Store

from .conftest import ApiClient


def test_each_store_has_its_own_customer_behind_the_same_id(
    make_api: Callable[..., ApiClient], store: Store, make_store: Callable[..., Store]
) -> None:
    london = make_store(slug="london", country="GB", time_zone="Europe/London")
    warsaw_till, london_till = make_api(store), make_api(london)
    in_warsaw = warsaw_till.post("/customers", {"external_id": "crm-1", "name": "Anna"})
    in_london = london_till.post("/customers", {"external_id": "crm-1", "name": "Bob"})

    assert (in_warsaw.status_code, in_london.status_code) == (201, 201)
    assert in_warsaw.json()["id"] != in_london.json()["id"]
    assert in_london.json()["name"] == "Bob"  # nothing of Warsaw's customer shows
    found = london_till.get("/customers", {"external_id": "crm-1"}).json()
    assert [(c["id"], c["name"], c["external_id"]) for c in found["results"]] == [
        (in_london.json()["id"], "Bob", "crm-1")]
    again = warsaw_till.post("/customers", {"external_id": "crm-1"})
    assert (again.status_code, again.json()["id"]) == (200, in_warsaw.json()["id"])


def test_the_answer_shows_the_id_of_the_callers_store(
    make_api: Callable[..., ApiClient], store: Store, make_store: Callable[..., Store]
) -> None:
    london = make_store(slug="london", country="GB", time_zone="Europe/London")
    warsaw_till, london_till = make_api(store), make_api(london)
    first = warsaw_till.post("/customers", {"phone": "+48 501 234 567", "external_id": "W-7"})
    same = london_till.post("/customers", {"phone": "+48 501 234 567", "external_id": "L-3"})

    assert same.json()["id"] == first.json()["id"]
    assert (first.json()["external_id"], same.json()["external_id"]) == ("W-7", "L-3")
    customer_id = first.json()["id"]
    assert warsaw_till.get(f"/customers/{customer_id}").json()["external_id"] == "W-7"
    assert london_till.get(f"/customers/{customer_id}").json()["external_id"] == "L-3"
    # A token bound to no store sees the id of the customer's home store.
    assert make_api().get(f"/customers/{customer_id}").json()["external_id"] == "W-7"
