"""The links without a name of their own, by customer: a search by name reads a home
link's name from its customer (``visibility.customers_named``), and for a common
surname among twenty stores PostgreSQL scanned every link to find the unnamed ones
(bench/RESULTS.md: 203 → 147 ms a query at 1M customers). Built CONCURRENTLY on
PostgreSQL, as visits 0003."""

from django.db import migrations, models

INDEX = models.Index(fields=["customer", "store"], condition=models.Q(name__isnull=True),
                     name="customer_store_unnamed")


def build(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE INDEX CONCURRENTLY IF NOT EXISTS customer_store_unnamed "
                              "ON customers_customerstore (customer_id, store_id) "
                              "WHERE name IS NULL")
    else:
        schema_editor.add_index(apps.get_model("customers", "CustomerStore"), INDEX)


def drop(apps, schema_editor):
    schema_editor.remove_index(apps.get_model("customers", "CustomerStore"), INDEX)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("customers", "0013_customer_store_last_visit"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddIndex(model_name="customerstore", index=INDEX)],
            database_operations=[migrations.RunPython(build, drop)],
        ),
    ]
