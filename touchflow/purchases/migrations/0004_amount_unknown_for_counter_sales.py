"""A counter sale's amount may be unknown until the till reports it (decision 0007)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('purchases', '0003_alter_purchase_categories_alter_purchase_items'),
    ]

    operations = [
        migrations.AlterField(
            model_name='purchase',
            name='amount',
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=14, null=True, verbose_name='amount'),
        ),
        migrations.AddConstraint(
            model_name='purchase',
            constraint=models.UniqueConstraint(condition=models.Q(('amount__isnull', True)), fields=('visit',), name='purchase_one_pending_per_visit'),
        ),
    ]
