"""``python -m tests.delivery.crowd COUNT``: fill the database that
``TOUCHFLOW_DATABASE_URL`` names with COUNT consenting customers, each enrolled in a
one-step SMS chain whose touch is due at once.

A subprocess, not a fixture: the resilience tests seed a throwaway PostgreSQL cluster
that the test process's own Django connection does not point at.
"""

from __future__ import annotations

import os
import sys
from datetime import time as clock_time

CHAIN = """\
slug: resilience
name: Resilience test
audience:
  trigger: [visit]
  visit_class: [type3]
steps:
  - key: hello
    kind: info
    after: 0s
    channels: [sms]
    expires: 1d
    message:
      en:
        text: "Hello {{ customer.first_name }}, thanks for coming to {{ store.name }}."
"""


def seed(count: int) -> None:
    from touchflow.core import clock
    from touchflow.customers.models import ContactPoint, Customer
    from touchflow.flows.actions import load_flow_text, set_status
    from touchflow.flows.enrollment import enroll_many
    from touchflow.stores.models import Store

    now = clock.now()
    # No quiet hours (start == end) and caps that never bind: the tests are about failures.
    store = Store.objects.create(
        name="Resilience store", slug="resilience", country="PL", time_zone="UTC",
        language="en", currency="PLN", quiet_hours_start=clock_time(0, 0),
        quiet_hours_end=clock_time(0, 0), cap_messages=1000, cap_commercial=1000,
    )
    flow = set_status(load_flow_text(CHAIN, "resilience.yaml").flow, "active")
    Customer.objects.bulk_create(
        [Customer(name=f"Client {i}", time_zone="UTC", home_store=store, created_at=now)
         for i in range(count)],
        batch_size=2000,
    )
    ContactPoint.objects.bulk_create(
        [
            ContactPoint(customer_id=customer_id, kind="phone", value=f"+4851{i:07d}",
                         contact_consent=True, created_at=now)
            for i, customer_id in enumerate(Customer.objects.values_list("id", flat=True))
        ],
        batch_size=2000,
    )
    enrolled = enroll_many(flow, Customer.objects.all(), store=store)
    if enrolled != count:
        raise SystemExit(f"enrolled {enrolled} of {count}")


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "touchflow.settings")
    import django

    django.setup()
    seed(int(sys.argv[1]))
