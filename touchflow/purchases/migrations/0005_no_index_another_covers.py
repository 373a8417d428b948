"""Decision 0006: no index on purchases.customer_id (the (customer, occurred_at) index
leads with it); visit_id indexed only where set.

The indexes are dropped by name: on PostgreSQL, AlterField(db_index=False) finds the
field's index by introspection and would also drop the unique partial index
``purchase_one_pending_per_visit``, which is on the same single column."""

import django.db.models.deletion
from django.db import migrations, models

DROPPED = {
    "purchases_purchase_customer_id_2e25a78a": "customer_id",
    "purchases_purchase_visit_id_326e91b7": "visit_id",
}


class Migration(migrations.Migration):

    dependencies = [
        ("customers", "0008_no_index_another_covers"),
        ("purchases", "0004_amount_unknown_for_counter_sales"),
        ("stores", "0004_store_currency_iso4217"),
        ("visits", "0002_builtin_reasons"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="purchase",
                    name="customer",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="purchases",
                        to="customers.customer",
                    ),
                ),
                migrations.AlterField(
                    model_name="purchase",
                    name="visit",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="purchases",
                        to="visits.visit",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{name}"',
                    reverse_sql=f'CREATE INDEX "{name}" ON "purchases_purchase" ("{column}")',
                )
                for name, column in DROPPED.items()
            ],
        ),
        migrations.AddIndex(
            model_name="purchase",
            index=models.Index(
                condition=models.Q(("visit__isnull", False)), fields=["visit"], name="purchase_visit"
            ),
        ),
    ]
