"""Which store recorded each name, contact point and consent event (decision 0008).

Backfilled as well as the rows allow: a consent event takes the store of its bound API
token, else of the visit logged at the same moment for the same customer (the counter
and the API record both together), else the customer's home store; the customer's own
requests (STOP, unsubscribe) keep no store. A contact point is recorded by the stores
of its consent events, else by its customer's home store. The home store's link
carries the customer's name; other stores' links carry none (a store that cannot be
shown to have recorded the name does not see it).
"""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import F, Min, OuterRef, Subquery

CHUNK = 2000


def backfill(apps, schema_editor):
    ConsentEvent = apps.get_model("customers", "ConsentEvent")
    ContactPoint = apps.get_model("customers", "ContactPoint")
    ContactPointStore = apps.get_model("customers", "ContactPointStore")
    CustomerStore = apps.get_model("customers", "CustomerStore")
    Customer = apps.get_model("customers", "Customer")
    Visit = apps.get_model("visits", "Visit")
    ApiToken = apps.get_model("integrations", "ApiToken")

    mine = ConsentEvent.objects.exclude(source="customer")
    mine.filter(integration__store__isnull=False).update(
        store=Subquery(ApiToken.objects.filter(pk=OuterRef("integration_id")).values("store_id")[:1])
    )
    same_moment = Visit.objects.filter(
        customer_id=OuterRef("customer_id"), occurred_at=OuterRef("at")
    ).order_by("id").values("store_id")[:1]
    mine.filter(store__isnull=True).update(store=Subquery(same_moment))
    mine.filter(store__isnull=True).update(
        store=Subquery(Customer.objects.filter(pk=OuterRef("customer_id")).values("home_store_id")[:1])
    )

    seen = (
        ConsentEvent.objects.filter(store__isnull=False)
        .values("contact_point_id", "store_id").annotate(first=Min("at"))
    )
    links = [
        ContactPointStore(contact_point_id=row["contact_point_id"], store_id=row["store_id"],
                          first_seen_at=row["first"])
        for row in seen.iterator(chunk_size=CHUNK)
    ]
    ContactPointStore.objects.bulk_create(links, batch_size=CHUNK)
    bare = ContactPoint.objects.filter(store_links__isnull=True).values_list(
        "pk", "customer__home_store_id", "created_at"
    )
    ContactPointStore.objects.bulk_create(
        (ContactPointStore(contact_point_id=pk, store_id=home, first_seen_at=at)
         for pk, home, at in bare.iterator(chunk_size=CHUNK)),
        batch_size=CHUNK,
    )

    CustomerStore.objects.update(name="")
    CustomerStore.objects.filter(store_id=F("customer__home_store_id")).update(
        name=Subquery(Customer.objects.filter(pk=OuterRef("customer_id")).values("name")[:1])
    )


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0005_contactpoint_last_inbound_at_and_more'),
        ('stores', '0002_store_cap_commercial_store_cap_messages_and_more'),
        ('visits', '0002_builtin_reasons'),
        ('integrations', '0002_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='consentevent',
            name='store',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='stores.store'),
        ),
        migrations.AddField(
            model_name='customerstore',
            name='name',
            field=models.CharField(blank=True, max_length=200, null=True, verbose_name='name'),
        ),
        migrations.CreateModel(
            name='ContactPointStore',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('first_seen_at', models.DateTimeField()),
                ('contact_point', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='store_links', to='customers.contactpoint')),
                ('store', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='contact_links', to='stores.store')),
            ],
            options={
                'indexes': [models.Index(fields=['store', 'contact_point'], name='customers_c_store_i_8e2aa8_idx')],
                'constraints': [models.UniqueConstraint(fields=('contact_point', 'store'), name='contact_point_store_unique')],
            },
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
