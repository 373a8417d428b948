"""The monthly figures (decision 0029), filled from the daily ones; on PostgreSQL both
keys carry the counts themselves (``INCLUDE (n, amount)``), so a dashboard's read is an
index-only scan. The SQL is written out here, not imported: a migration is history."""

from django.db import migrations, models

KEY = "store_id, metric, day, staff_id, k1, k2, k3, k4"
COLUMNS = "day, store_id, staff_id, metric, k1, k2, k3, k4"


def fill_months(apps, schema_editor):
    month = ("date_trunc('month', day)::date" if schema_editor.connection.vendor == "postgresql"
             else "date(day, 'start of month')")
    picked = COLUMNS.replace("day,", f"{month},", 1)
    schema_editor.execute(
        f"INSERT INTO timeline_figuremonth ({COLUMNS}, n, amount) "
        f"SELECT {picked}, sum(n), sum(amount) FROM timeline_figure GROUP BY {picked}")


def covering_keys(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite has no INCLUDE; its key index serves the reads as it is
    for table, name in (("timeline_figure", "figure_key"),
                        ("timeline_figuremonth", "figure_month_key")):
        schema_editor.execute(
            f"ALTER TABLE {table} DROP CONSTRAINT {name}, "
            f"ADD CONSTRAINT {name} UNIQUE ({KEY}) INCLUDE (n, amount)")


class Migration(migrations.Migration):

    dependencies = [
        ('timeline', '0012_figures'),
    ]

    operations = [
        migrations.CreateModel(
            name='FigureMonth',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField()),
                ('store_id', models.IntegerField()),
                ('staff_id', models.IntegerField(default=0)),
                ('metric', models.CharField(max_length=24)),
                ('k1', models.CharField(default='', max_length=64)),
                ('k2', models.CharField(default='', max_length=64)),
                ('k3', models.CharField(default='', max_length=64)),
                ('k4', models.CharField(default='', max_length=64)),
                ('n', models.BigIntegerField(default=0)),
                ('amount', models.DecimalField(decimal_places=2, default=0, max_digits=18)),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('store_id', 'metric', 'day', 'staff_id', 'k1', 'k2', 'k3', 'k4'), name='figure_month_key')],
            },
        ),
        migrations.RunPython(fill_months, migrations.RunPython.noop),
        migrations.RunPython(covering_keys, migrations.RunPython.noop),
    ]
