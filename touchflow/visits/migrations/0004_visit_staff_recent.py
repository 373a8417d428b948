"""A seller's visits newest first, and counted over a period, read from an index on
(staff, occurred_at): the drill-down from the dashboard (a seller's grey visits of a
year) walked the store's and the seller's whole index and a million rows of the heap
(bench/RESULTS.md: 776 ms at 10M visits). Built CONCURRENTLY on PostgreSQL, as 0003."""

from django.db import migrations, models

INDEX = models.Index(fields=["staff", "occurred_at"], name="visit_staff_recent")


def build(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE INDEX CONCURRENTLY IF NOT EXISTS visit_staff_recent "
                              "ON visits_visit (staff_id, occurred_at)")
    else:
        schema_editor.add_index(apps.get_model("visits", "Visit"), INDEX)


def drop(apps, schema_editor):
    schema_editor.remove_index(apps.get_model("visits", "Visit"), INDEX)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("visits", "0003_visit_recent"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddIndex(model_name="visit", index=INDEX)],
            database_operations=[migrations.RunPython(build, drop)],
        ),
    ]
