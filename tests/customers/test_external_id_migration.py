"""Upgrading keeps every external id resolving where it resolved before (decision 0010)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.conftest import FIXED_NOW

CUSTOMERS_BEFORE = ("customers", "0005_contactpoint_last_inbound_at_and_more")


@pytest.mark.django_db(transaction=True)
def test_global_ids_become_ids_of_each_store_that_knew_the_customer() -> None:
    executor = MigrationExecutor(connection)
    # Customers before the change, stores as they are now.
    before = [CUSTOMERS_BEFORE, *(n for n in executor.loader.graph.leaf_nodes()
                                  if n[0] == "stores")]
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    Store = old.get_model("stores", "Store")
    Customer = old.get_model("customers", "Customer")
    CustomerStore = old.get_model("customers", "CustomerStore")
    now = FIXED_NOW  # the rows' times only need to be some moment: a fixed one
    london = Store.objects.create(name="London", slug="m-london")
    paris = Store.objects.create(name="Paris", slug="m-paris")
    both = Customer.objects.create(home_store=london, external_id="17850", created_at=now)
    for store in (london, paris):
        CustomerStore.objects.create(customer=both, store=store, first_seen_at=now,
                                     last_seen_at=now)
    merged = Customer.objects.create(home_store=paris, external_id="old-1", created_at=now,
                                     merged_into=both)
    lone = Customer.objects.create(home_store=paris, external_id="P-5", created_at=now)
    Customer.objects.create(home_store=paris, external_id=None, created_at=now)

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    from touchflow.customers.actions import find_customer
    from touchflow.customers.models import Customer as NewCustomer
    from touchflow.customers.models import CustomerExternalId
    from touchflow.stores.models import Store as NewStore

    assert sorted(CustomerExternalId.objects.values_list("customer_id", "store__slug",
                                                         "value")) == sorted([
        (both.pk, "m-london", "17850"), (both.pk, "m-paris", "17850"),
        (both.pk, "m-london", "old-1"), (both.pk, "m-paris", "old-1"),
        (lone.pk, "m-paris", "P-5"),
    ])
    new_london, new_paris = (NewStore.objects.get(slug=s) for s in ("m-london", "m-paris"))
    assert [c.pk for c in find_customer(external_id="old-1", store=new_paris)] == [both.pk]
    assert find_customer(external_id="P-5", store=new_london) == []
    assert NewCustomer.objects.get(pk=merged.pk).merged_into_id == both.pk


@pytest.mark.django_db(transaction=True)
def test_going_back_restores_one_global_id_per_customer() -> None:
    from touchflow.customers.models import Customer, CustomerExternalId
    from touchflow.stores.models import Store

    now = FIXED_NOW  # the rows' times only need to be some moment: a fixed one
    london = Store.objects.create(name="London", slug="b-london")
    paris = Store.objects.create(name="Paris", slug="b-paris")
    first = Customer.objects.create(home_store=london, created_at=now)
    second = Customer.objects.create(home_store=paris, created_at=now)
    CustomerExternalId.objects.create(customer=first, store=paris, value="P-1")
    CustomerExternalId.objects.create(customer=first, store=london, value="L-1")
    # Two stores' customers with the same id: only one can keep it globally.
    CustomerExternalId.objects.create(customer=second, store=paris, value="L-1")

    executor = MigrationExecutor(connection)
    executor.migrate([CUSTOMERS_BEFORE])
    old = executor.loader.project_state([CUSTOMERS_BEFORE]).apps
    ids = dict(old.get_model("customers", "Customer").objects.values_list("pk", "external_id"))
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert (ids[first.pk], ids[second.pk]) == ("L-1", None)  # its home store's id first
