"""Customer external ids move from one global column to one row per (store, id).

Every existing id is kept for every store that already knew the customer (the home
store and each linked store), so no lookup that worked before the upgrade stops
working; a merged customer's id goes to the survivor. Decision 0010.
"""

import django.db.models.deletion
from django.db import migrations, models


def _live(customers, pk):
    seen = 0
    while customers[pk][1] is not None and seen < 50:
        pk = customers[pk][1]
        seen += 1
    return pk


def copy_ids_to_stores(apps, schema_editor):
    Customer = apps.get_model("customers", "Customer")
    CustomerStore = apps.get_model("customers", "CustomerStore")
    CustomerExternalId = apps.get_model("customers", "CustomerExternalId")
    customers = {
        pk: (home, merged)
        for pk, home, merged in Customer.objects.values_list("pk", "home_store_id", "merged_into_id")
    }
    stores: dict[int, set[int]] = {}
    for customer_id, store_id in CustomerStore.objects.values_list("customer_id", "store_id"):
        stores.setdefault(customer_id, set()).add(store_id)
    rows = []
    for pk, value in Customer.objects.exclude(external_id=None).values_list("pk", "external_id"):
        if not value:
            continue
        live = _live(customers, pk)
        for store_id in sorted({customers[pk][0], customers[live][0], *stores.get(live, ())}):
            rows.append(CustomerExternalId(customer_id=live, store_id=store_id, value=value))
    CustomerExternalId.objects.bulk_create(rows, batch_size=1000)


def copy_ids_back(apps, schema_editor):
    """One id per customer (its home store's, else the oldest), while the ids stay unique."""
    Customer = apps.get_model("customers", "Customer")
    CustomerExternalId = apps.get_model("customers", "CustomerExternalId")
    homes = dict(Customer.objects.values_list("pk", "home_store_id"))
    chosen: dict[int, str] = {}
    taken: set[str] = set()
    rows = CustomerExternalId.objects.order_by("pk").values_list("customer_id", "store_id", "value")
    for customer_id, store_id, value in sorted(
        rows, key=lambda r: (r[0], r[1] != homes.get(r[0]))
    ):
        if customer_id not in chosen and value not in taken:
            chosen[customer_id] = value
            taken.add(value)
    for customer_id, value in chosen.items():
        Customer.objects.filter(pk=customer_id).update(external_id=value)


class Migration(migrations.Migration):

    dependencies = [
        ("customers", "0006_isolation_store_of_origin"),
        ("stores", "0002_store_cap_commercial_store_cap_messages_and_more"),
    ]

    operations = [
        migrations.CreateModel(
            name="CustomerExternalId",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("value", models.CharField(max_length=100, verbose_name="external id")),
                (
                    "customer",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="external_ids",
                        to="customers.customer",
                    ),
                ),
                (
                    "store",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="stores.store",
                    ),
                ),
            ],
            options={
                "verbose_name": "external id",
                "verbose_name_plural": "external ids",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("store", "value"), name="customer_external_id_unique"
                    )
                ],
            },
        ),
        migrations.RunPython(copy_ids_to_stores, copy_ids_back),
        migrations.RemoveField(model_name="customer", name="external_id"),
    ]
