"""Bearer tokens: who may call the API, and for which store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import time_machine

from tests.api.conftest import ApiClient, problems
from touchflow.customers.models import ConsentEvent
from touchflow.integrations.actions import revoke_token
from touchflow.integrations.models import ApiToken
from touchflow.stores.models import Store
from touchflow.visits.models import Visit

NOON = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
VISIT = {"bought": False, "contact_capture": "refused", "reason": "just_looking"}


def test_no_token_is_401_naming_the_header(api: ApiClient) -> None:
    anonymous = ApiClient(api.client, None)
    response = anonymous.post("/visits", VISIT)
    assert response.status_code == 401
    assert problems(response) == [("Authorization", "not_authenticated")]
    assert response["WWW-Authenticate"] == 'Bearer realm="touchflow"'
    assert Visit.objects.count() == 0


def test_wrong_token_is_401(api: ApiClient) -> None:
    for secret in ["tf_not-a-real-token", "not-even-the-prefix", api.secret + "x"]:
        response = ApiClient(api.client, secret).get("/reasons")
        assert response.status_code == 401, secret
        assert problems(response) == [("Authorization", "not_authenticated")]


def test_other_schemes_are_401(api: ApiClient) -> None:
    response = api.client.get("/api/v1/reasons", headers={"Authorization": f"Basic {api.secret}"})
    assert response.status_code == 401
    response = api.client.get("/api/v1/reasons", headers={"Authorization": f"bearer {api.secret}"})
    assert response.status_code == 200  # the scheme is case-insensitive (RFC 7235)


def test_revoked_token_is_401(api: ApiClient) -> None:
    assert api.get("/reasons").status_code == 200
    revoke_token("warsaw-till")
    response = api.post("/visits", VISIT)
    assert response.status_code == 401
    assert Visit.objects.count() == 0


def test_last_used_is_written_at_most_once_a_minute(api: ApiClient) -> None:
    assert api.token is not None
    with time_machine.travel(NOON, tick=False) as traveller:
        api.get("/reasons")
        assert ApiToken.objects.get(pk=api.token.pk).last_used_at == NOON
        traveller.shift(timedelta(seconds=59))
        api.get("/reasons")
        assert ApiToken.objects.get(pk=api.token.pk).last_used_at == NOON
        traveller.shift(timedelta(seconds=2))
        api.get("/reasons")
        assert ApiToken.objects.get(pk=api.token.pk).last_used_at == NOON + timedelta(seconds=61)


def test_requests_act_as_the_integration(api: ApiClient, salesperson: object) -> None:
    response = api.post("/visits", {"bought": True, "contact_capture": "taken", "staff": "sam",
                                    "customer": {"email": "anna@example.com"}})
    assert response.status_code == 201
    visit = Visit.objects.get()
    assert (visit.source, visit.staff) == ("api", salesperson)
    consent = ConsentEvent.objects.get()
    assert (consent.source, consent.integration, consent.staff) == ("api", api.token, salesperson)


def test_bound_token_may_not_write_for_another_store(
    api: ApiClient, make_store: Callable[..., Store]
) -> None:
    make_store(slug="krakow")
    response = api.post("/visits", {**VISIT, "store": "krakow"})
    assert response.status_code == 403
    assert problems(response) == [("store", "forbidden")]
    assert Visit.objects.count() == 0


def test_bound_token_may_name_its_own_store(api: ApiClient, store: Store) -> None:
    response = api.post("/visits", {**VISIT, "store": "warsaw"})
    assert response.status_code == 201
    assert Visit.objects.get().store == store


def test_unbound_token_must_name_a_known_store(open_api: ApiClient, store: Store) -> None:
    response = open_api.post("/visits", VISIT)
    assert response.status_code == 422
    assert problems(response) == [("store", "required")]
    response = open_api.post("/visits", {**VISIT, "store": "atlantis"})
    assert response.status_code == 422
    assert problems(response) == [("store", "not_found")]
    assert Visit.objects.count() == 0
    response = open_api.post("/visits", {**VISIT, "store": "warsaw"})
    assert response.status_code == 201
    assert Visit.objects.get().store == store


def test_bound_token_cannot_see_another_stores_customers(
    api: ApiClient, make_api: Callable[..., ApiClient], make_store: Callable[..., Store]
) -> None:
    krakow = make_api(make_store(slug="krakow", country="PL"))
    created = krakow.post("/customers", {"phone": "+48 501 234 567", "name": "Olga"}).json()
    response = api.get(f"/customers/{created['id']}")
    assert response.status_code == 404
    assert problems(response) == [("customer_id", "not_found")]
    assert api.get("/customers", {"phone": "+48501234567"}).json() == {"count": 0, "results": []}
    response = api.post("/purchases", {"customer_id": created["id"], "amount": "10.00"})
    assert response.status_code == 404
    assert problems(response) == [("customer_id", "not_found")]
    response = api.post("/visits", {"bought": True, "contact_capture": "refused",
                                    "customer": {"id": created["id"]}})
    assert response.status_code == 404
    assert problems(response) == [("customer.id", "not_found")]
    assert Visit.objects.count() == 0
