"""Decision 0027: each store link carries the customer's latest visit to that store —
when, its class, who served it — so the customer list filters and sorts without
reading visits.

The backfill takes, per (customer, store), the visit latest by (time, id): one
``UPDATE … FROM`` over a window of the visits table, on PostgreSQL and on SQLite
(3.33+) alike. The order by last visit gets its indexes here, by hand: PostgreSQL
sorts NULL first in a descending index unless told ``NULLS LAST``, which SQLite's
``CREATE INDEX`` does not accept (SQLite puts NULL last in descending order anyway).
On PostgreSQL the customers' tags get a GIN index for the list's tag filter (``@>``),
and the names and contacts the search box reads get trigram indexes (where ``pg_trgm``
can be had).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import DatabaseError, migrations, models, transaction
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

BACKFILL = """
UPDATE customers_customerstore AS link
SET last_visit_at = latest.occurred_at,
    last_visit_class = latest.visit_class,
    last_visit_staff_id = latest.staff_id
FROM (
    SELECT customer_id, store_id, occurred_at, visit_class, staff_id,
           ROW_NUMBER() OVER (PARTITION BY customer_id, store_id
                              ORDER BY occurred_at DESC, id DESC) AS n
    FROM visits_visit
    WHERE customer_id IS NOT NULL
) AS latest
WHERE latest.n = 1
  AND link.customer_id = latest.customer_id
  AND link.store_id = latest.store_id
"""

# One store's links by last visit, and every store's (an admin's list, a manager's of
# several stores: scanned in order, the other stores' links skipped).
LAST_VISIT_INDEXES = {
    "postgresql": [
        "CREATE INDEX customer_store_last_visit ON customers_customerstore "
        "(store_id, last_visit_at DESC NULLS LAST, customer_id DESC)",
        "CREATE INDEX customer_store_recent ON customers_customerstore "
        "(last_visit_at DESC NULLS LAST, customer_id DESC)",
    ],
    "sqlite": [
        "CREATE INDEX customer_store_last_visit ON customers_customerstore "
        "(store_id, last_visit_at DESC, customer_id DESC)",
        "CREATE INDEX customer_store_recent ON customers_customerstore "
        "(last_visit_at DESC, customer_id DESC)",
    ],
}
TAGS_INDEX = ("CREATE INDEX customer_tags ON customers_customer "
              "USING gin (tags jsonb_path_ops)")
# The search box's ``icontains`` is ``UPPER(column::text) LIKE UPPER('%…%')`` on
# PostgreSQL: trigram indexes on exactly those expressions serve it.
TRIGRAM_INDEXES = {
    "customer_name_trgm": "customers_customer (UPPER(name::text) gin_trgm_ops)",
    "customer_store_name_trgm": "customers_customerstore (UPPER(name::text) gin_trgm_ops)",
    "contact_point_value_trgm": "customers_contactpoint (UPPER(value::text) gin_trgm_ops)",
}


def forwards(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    vendor = schema_editor.connection.vendor
    schema_editor.execute(BACKFILL)
    for sql in LAST_VISIT_INDEXES[vendor]:
        schema_editor.execute(sql)
    if vendor == "postgresql":
        schema_editor.execute(TAGS_INDEX)
        if _trigrams(schema_editor):
            for name, target in TRIGRAM_INDEXES.items():
                schema_editor.execute(f"CREATE INDEX {name} ON {target.replace('(', 'USING gin (', 1)}")


def _trigrams(schema_editor: BaseDatabaseSchemaEditor) -> bool:
    """Whether pg_trgm is there or could be made (a trusted extension since PostgreSQL 13:
    the database's owner may create it). Without it the search works, unindexed."""
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DatabaseError:
        return False
    return True


def backwards(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    for name in ("customer_store_last_visit", "customer_store_recent", "customer_tags",
                 *TRIGRAM_INDEXES):
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0012_store_references_kept_by_django'),
        ('visits', '0002_builtin_reasons'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='customerstore',
            name='last_visit_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='customerstore',
            name='last_visit_class',
            field=models.CharField(blank=True, db_default='', default='', max_length=8),
        ),
        migrations.AddField(
            model_name='customerstore',
            name='last_visit_staff',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.RunPython(forwards, backwards, elidable=False),
        migrations.AddIndex(
            model_name='customerstore',
            index=models.Index(fields=['store', 'last_visit_class', 'customer'], name='customer_store_visit_class'),
        ),
        migrations.AddIndex(
            model_name='customerstore',
            index=models.Index(fields=['store', 'last_visit_staff', 'customer'], name='customer_store_visit_staff'),
        ),
    ]
