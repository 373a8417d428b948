"""``python -m tests.delivery.crowd COUNT``: fill the database that
``TOUCHFLOW_DATABASE_URL`` names with COUNT consenting customers, each enrolled in a
one-step SMS chain whose touch is due at once.

A subprocess, not a fixture: the resilience tests seed a throwaway PostgreSQL cluster
that the test process's own Django connection does not point at.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from datetime import time as clock_time
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Django is set up by the caller (a test, or __main__ below)
    from touchflow.flows.models import Flow
    from touchflow.stores.models import Store

CREATED = datetime(2026, 1, 1, tzinfo=UTC)

CHAIN = """\
slug: {slug}
name: Chain {slug}
audience:
  trigger: [visit]
  visit_class: [type3]
steps:
  - key: hello
    kind: info
    after: 0s
    channels: [sms]
    expires: {expires}
    message:
      en:
        text: "Hello {{{{ customer.first_name }}}}, thanks for coming to {{{{ store.name }}}}."
"""


def one_step_chain(slug: str, expires: str = "1d") -> Flow:
    """An active chain of one SMS step, due at once after a visit."""
    from touchflow.flows.actions import load_flow_text
    from touchflow.funnel.chains import set_status

    text = CHAIN.format(slug=slug, expires=expires)
    return set_status(load_flow_text(text, f"{slug}.yaml").flow, "active")


def open_store(slug: str, caps: tuple[int, int, int] = (1000, 1000, 7)) -> Store:
    """A store with no quiet hours (start == end) and the given caps (messages, offers,
    days): by default caps that never bind, for tests about failures."""
    from touchflow.stores.models import Store

    messages, offers, days = caps
    return Store.objects.create(
        name=f"Store {slug}", slug=slug, country="PL", time_zone="UTC", language="en",
        currency="PLN", quiet_hours_start=clock_time(0, 0), quiet_hours_end=clock_time(0, 0),
        cap_messages=messages, cap_commercial=offers, cap_period_days=days,
    )


def phone_customers(store: Store, count: int) -> None:
    """``count`` customers of ``store``, each with a consenting phone."""
    from touchflow.customers.models import ContactPoint, Customer

    # A fixed moment, not the clock: when a customer was created decides nothing here
    # (their touches fall due when ``enroll_many`` enrolls them).
    Customer.objects.bulk_create(
        [Customer(name=f"Client {i}", time_zone="UTC", home_store=store, created_at=CREATED)
         for i in range(count)],
        batch_size=2000,
    )
    ContactPoint.objects.bulk_create(
        [
            ContactPoint(customer_id=customer_id, kind="phone", value=f"+4851{i:07d}",
                         contact_consent=True, created_at=CREATED)
            for i, customer_id in enumerate(Customer.objects.values_list("id", flat=True))
        ],
        batch_size=2000,
    )


def seed(count: int, slug: str = "resilience") -> None:
    """``count`` customers, each enrolled in a one-step chain, its touch due now."""
    from touchflow.customers.models import Customer
    from touchflow.delivery.enrollments import enroll_many

    store = open_store(slug)
    phone_customers(store, count)
    enrolled = enroll_many(one_step_chain(slug), Customer.objects.all(), store=store)
    if enrolled != count:
        raise SystemExit(f"enrolled {enrolled} of {count}")


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "touchflow.settings")
    import django

    django.setup()
    seed(int(sys.argv[1]))
