"""The suppression list moves from the privacy app to customers, the contacts it guards
(the table keeps its name, ``privacy_suppression``: nothing changes in the database)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0008_no_index_another_covers"),
        ("privacy", "0001_audit_erasure_suppression"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Suppression",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True,
                                                   serialize=False, verbose_name="ID")),
                        ("digest", models.CharField(max_length=64, unique=True)),
                        ("created_at", models.DateTimeField()),
                    ],
                    options={"db_table": "privacy_suppression"},
                ),
            ],
            database_operations=[],
        ),
    ]
