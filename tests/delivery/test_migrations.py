"""A deployment upgraded while a worker held touches loses none of them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.conftest import FIXED_NOW


@pytest.mark.django_db(transaction=True)
def test_touches_claimed_under_the_old_scheme_come_back_to_the_queue() -> None:
    executor = MigrationExecutor(connection)
    # Delivery before the change; customers as they are now (their migrations since
    # do not go back with delivery's).
    before = [("delivery", "0006_alter_touch_enrollment"),
              *(n for n in executor.loader.graph.leaf_nodes() if n[0] == "customers")]
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    Store = old.get_model("stores", "Store")
    Customer = old.get_model("customers", "Customer")
    Flow = old.get_model("flows", "Flow")
    FlowStep = old.get_model("flows", "FlowStep")
    Enrollment = old.get_model("flows", "Enrollment")
    Touch = old.get_model("delivery", "Touch")
    now = FIXED_NOW  # a fixed moment; the claim below is asked at that same moment
    store = Store.objects.create(name="S", slug="s-migr")
    customer = Customer.objects.create(home_store=store, created_at=now)
    flow = Flow.objects.create(slug="f-migr", name="F", created_at=now, updated_at=now)
    step = FlowStep.objects.create(flow=flow, key="a", position=1, kind="info",
                                   delay_seconds=0, expires_seconds=3600, channels=["sms"],
                                   messages={"en": {"text": "x"}})
    enrollment = Enrollment.objects.create(flow=flow, customer=customer, store=store,
                                           entered_at=now)
    Touch.objects.create(enrollment=enrollment, step=step, customer=customer, store=store,
                         due_at=now, expires_at=now + timedelta(hours=1), state="claimed",
                         idempotency_key="k-migr", lease_owner="old:1:x",
                         lease_until=now - timedelta(minutes=1), created_at=now)
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    from touchflow.delivery import queries
    from touchflow.delivery.models import Touch as NewTouch

    touch = NewTouch.objects.get(idempotency_key="k-migr")
    assert touch.state == "queued"
    assert queries.claim(now, "new:1:y", now + timedelta(minutes=2), 10) == [touch.pk]
