from __future__ import annotations

from decimal import Decimal

import pytest

from touchflow.core.errors import InvalidInput
from touchflow.funnel.customers import resolve_customer
from touchflow.funnel.purchases import record_purchase
from touchflow.integrations.actor import Actor
from touchflow.purchases.models import Purchase
from touchflow.stores.models import Store
from touchflow.timeline.models import TimelineEvent

API = Actor(source="api")


@pytest.fixture
def customer(store: Store):
    return resolve_customer(store=store, actor=API, external_id="c-1")[0]


def test_purchase_is_recorded_with_the_store_currency_and_a_timeline_row(
    store: Store, customer
) -> None:
    purchase, created = record_purchase(
        store=store,
        actor=API,
        customer=customer,
        amount="1299.90",
        categories=["sofas", "sofas"],
        items=[{"sku": "S1", "name": "Sofa", "quantity": 1, "unit_price": "1299.90"}],
        external_id="inv-1",
    )
    assert created
    assert (purchase.amount, purchase.currency, purchase.categories) == (
        Decimal("1299.90"),
        "PLN",
        ["sofas"],
    )
    row = TimelineEvent.objects.get(kind="purchase")
    assert (row.customer_id, row.purchase_id, row.data["amount"]) == (
        customer.pk,
        purchase.pk,
        "1299.90",
    )


def test_repeated_external_id_never_duplicates(store: Store, customer) -> None:
    first, _ = record_purchase(
        store=store, actor=API, customer=customer, amount=10, external_id="inv-1"
    )
    again, created = record_purchase(
        store=store, actor=API, customer=customer, amount=99, external_id="inv-1"
    )
    assert (again.pk, created, again.amount) == (first.pk, False, Decimal("10.00"))
    assert Purchase.objects.count() == 1
    assert TimelineEvent.objects.filter(kind="purchase").count() == 1


@pytest.mark.parametrize(
    ("amount", "currency", "field"),
    [
        ("-1", None, "amount"),
        ("abc", None, "amount"),
        ("1.001", None, "amount"),
        ("NaN", None, "amount"),
        ("10", "zł", "currency"),
    ],
)
def test_bad_purchase_names_the_field(
    store: Store, customer, amount: str, currency: str | None, field: str
) -> None:
    with pytest.raises(InvalidInput) as err:
        record_purchase(store=store, actor=API, customer=customer, amount=amount, currency=currency)
    assert err.value.field == field
    assert Purchase.objects.count() == 0
