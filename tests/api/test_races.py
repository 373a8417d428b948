"""Concurrent requests for the same visit, purchase or person: one row each, and no 500.

PostgreSQL only: it is the engine that runs several workers; the in-memory SQLite
test database cannot be shared between threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from tests.api.conftest import ApiClient
from touchflow.customers.models import ContactPoint, Customer
from touchflow.purchases.models import Purchase
from touchflow.stores.models import Store
from touchflow.visits.models import Visit

pytestmark = [
    # The threads must see each other's commits, so the test commits (and the database
    # is emptied afterwards, as after every transactional test).
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL"),
]
WORKERS = 6


def _race(api: ApiClient, bodies: list[dict[str, Any]], path: str = "/visits") -> list[int]:
    """POST every body to ``path`` at the same instant, each from its own thread."""
    start = threading.Barrier(len(bodies))
    statuses: list[int] = []

    def post(body: dict[str, Any]) -> None:
        own = ApiClient(Client(), api.secret)
        start.wait()
        try:
            statuses.append(own.post(path, body).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(statuses)


def test_the_same_external_id_at_once_makes_one_visit(
    make_store: Callable[..., Store], make_api: Callable[..., ApiClient]
) -> None:
    api = make_api(make_store(slug="race-1"))
    body = {"bought": True, "contact_capture": "taken", "external_id": "pos-1",
            "customer": {"phone": "+48501234567"}}
    assert _race(api, [body] * WORKERS) == [200] * (WORKERS - 1) + [201]
    assert Visit.objects.count() == 1
    assert Customer.objects.count() == 1


def test_the_same_new_phone_at_once_makes_one_customer(
    make_store: Callable[..., Store], make_api: Callable[..., ApiClient]
) -> None:
    api = make_api(make_store(slug="race-2"))
    bodies = [{"bought": True, "contact_capture": "taken", "external_id": f"pos-{n}",
               "customer": {"phone": "+48 501 234 567"}} for n in range(WORKERS)]
    assert _race(api, bodies) == [201] * WORKERS
    assert Visit.objects.count() == WORKERS
    assert list(ContactPoint.objects.values_list("value", flat=True)) == ["+48501234567"]
    assert Customer.active.count() == 1
    assert Visit.objects.filter(customer=Customer.active.get()).count() == WORKERS



def test_purchases_at_once_make_one_purchase_per_receipt_and_one_new_customer(
    make_store: Callable[..., Store], make_api: Callable[..., ApiClient]
) -> None:
    """The purchase action finds or creates the buyer in its own transaction and retries
    a lost race, as a visit does: one customer for a new phone, one purchase per receipt."""
    api = make_api(make_store(slug="race-3"))
    bodies = [{"amount": "10", "external_id": f"inv-{n % 3}",
               "customer": {"phone": "+48 501 234 567"}} for n in range(WORKERS)]
    assert sorted(set(_race(api, bodies, "/purchases"))) == [200, 201]
    assert Purchase.objects.count() == 3
    assert Customer.active.count() == 1
    assert set(Purchase.objects.values_list("customer_id", flat=True)) == {
        Customer.active.get().pk
    }
