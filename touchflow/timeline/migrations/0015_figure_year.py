"""The yearly figures (decision 0030), filled from the monthly ones, their key carrying
the counts on PostgreSQL as the others do. The SQL is written out: a migration is
history."""

from django.db import migrations, models

KEY = "store_id, metric, day, staff_id, k1, k2, k3, k4"
COLUMNS = "day, store_id, staff_id, metric, k1, k2, k3, k4"


def fill_years(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    january = "date_trunc('year', day)::date" if postgres else "date(day, 'start of year')"
    picked = COLUMNS.replace("day,", f"{january},", 1)
    schema_editor.execute(
        f"INSERT INTO timeline_figureyear ({COLUMNS}, n, amount) "
        f"SELECT {picked}, sum(n), sum(amount) FROM timeline_figuremonth GROUP BY {picked}")
    if postgres:
        schema_editor.execute(
            "ALTER TABLE timeline_figureyear DROP CONSTRAINT figure_year_key, "
            f"ADD CONSTRAINT figure_year_key UNIQUE ({KEY}) INCLUDE (n, amount)")


class Migration(migrations.Migration):

    dependencies = [
        ('timeline', '0014_figure_week'),
    ]

    operations = [
        migrations.CreateModel(
            name='FigureYear',
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
                'constraints': [models.UniqueConstraint(fields=('store_id', 'metric', 'day', 'staff_id', 'k1', 'k2', 'k3', 'k4'), name='figure_year_key')],
            },
        ),
        migrations.RunPython(fill_years, migrations.RunPython.noop),
    ]
