"""Touches a worker held under the old scheme (state "claimed") become "queued" with
their lease as it was: the new claim takes them over once the lease runs out, as it
does for any touch whose worker died."""

from django.db import migrations


def claimed_to_queued(apps, schema_editor):
    Touch = apps.get_model("delivery", "Touch")
    Touch.objects.filter(state="claimed").update(state="queued")


class Migration(migrations.Migration):
    dependencies = [("delivery", "0006_alter_touch_enrollment")]

    operations = [migrations.RunPython(claimed_to_queued, migrations.RunPython.noop)]
