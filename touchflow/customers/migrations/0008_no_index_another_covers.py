"""Decision 0006: no single-column index on a foreign key that a wider index or unique
constraint already leads with — contact points' customer_id ((customer, kind)), store
links' customer_id (unique (customer, store)) and store_id ((store, customer)).

Dropped by name, as ``purchases.0005`` does (AlterField's introspection on PostgreSQL
drops any single-column index of the field)."""

import django.db.models.deletion
from django.db import migrations, models

DROPPED = {
    "customers_contactpoint_customer_id_c5e90863": ("customers_contactpoint", "customer_id"),
    "customers_customerstore_customer_id_3d16d4b9": ("customers_customerstore", "customer_id"),
    "customers_customerstore_store_id_4564d4de": ("customers_customerstore", "store_id"),
}


class Migration(migrations.Migration):

    dependencies = [
        ("customers", "0007_external_ids_per_store"),
        ("stores", "0004_store_currency_iso4217"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="contactpoint",
                    name="customer",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="contacts",
                        to="customers.customer",
                    ),
                ),
                migrations.AlterField(
                    model_name="customerstore",
                    name="customer",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="store_links",
                        to="customers.customer",
                    ),
                ),
                migrations.AlterField(
                    model_name="customerstore",
                    name="store",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="customer_links",
                        to="stores.store",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{name}"',
                    reverse_sql=f'CREATE INDEX "{name}" ON "{table}" ("{column}")',
                )
                for name, (table, column) in DROPPED.items()
            ],
        ),
    ]
