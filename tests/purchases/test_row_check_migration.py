"""Purchases recorded before the row checks were dropped survive the migration, and
afterwards the database holds no foreign key from a purchase to its customer or store
(decision 0015) while Django still refuses to delete what a purchase refers to."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import ProtectedError

from touchflow.core import clock

BEFORE = ("purchases", "0004_amount_unknown_for_counter_sales")


def _references() -> set[str]:
    """The columns of the purchase table that carry a foreign-key constraint."""
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, "purchases_purchase")
    return {c for spec in found.values() if spec["foreign_key"] for c in spec["columns"]}


@pytest.mark.django_db(transaction=True)
def test_purchases_survive_and_lose_only_their_customer_and_store_checks() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])
    old = executor.loader.project_state([BEFORE]).apps
    # Stores and customers stay at their latest migrations (nothing of theirs depends
    # on the purchases one), so today's models write them.
    from touchflow.customers.models import Customer
    from touchflow.stores.models import Store

    store = Store.objects.create(name="S", slug="s-rowcheck")
    now = clock.now()
    customer = Customer.objects.create(home_store=store, created_at=now)
    old.get_model("purchases", "Purchase").objects.create(
        customer_id=customer.pk, store_id=store.pk, occurred_at=now, amount="12.50", currency="GBP",
        source="import", external_id="inv-rowcheck", created_at=now,
    )
    assert {"customer_id", "store_id"} <= _references()

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    from touchflow.purchases.models import Purchase

    purchase = Purchase.objects.get(external_id="inv-rowcheck")
    assert (purchase.customer_id, purchase.store_id) == (customer.pk, store.pk)
    references = _references()
    assert "customer_id" not in references and "store_id" not in references
    assert "visit_id" in references  # the nullable reference keeps its check
    with pytest.raises(ProtectedError):
        Customer.objects.filter(pk=customer.pk).delete()
