"""The suppression list moves to the customers app (``customers`` 0009): only the
model's state leaves here; its table stays as it is."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("privacy", "0001_audit_erasure_suppression"),
        ("customers", "0009_suppression_from_privacy"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Suppression")],
            database_operations=[],
        ),
    ]
