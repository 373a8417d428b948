"""Caps hold whichever workers hold a customer's touches (issue 13).

300 customers, each in three one-step chains due at the same instant; the store allows
two messages a week. Three ``touchflow worker`` processes with small batches (so one
customer's three touches land in different workers' hands) send to a recording sink.
Afterwards no customer has received more than two messages, and the third touch of
each customer waits (deferred by the cap), never lost.

PostgreSQL only: several workers share one queue only there.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings

from tests.delivery.crash_sink import crash_sink
from tests.delivery.crowd import one_step_chain, open_store, phone_customers
from tests.delivery.test_crash import Workers, _database_url
from touchflow.core import clock
from touchflow.customers.models import ContactPoint, Customer
from touchflow.delivery.enrollments import enroll_many
from touchflow.delivery.models import Touch

pytestmark = [
    pytest.mark.skipif(
        not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
        reason="several workers share one queue only on PostgreSQL; "
        "run with TOUCHFLOW_DATABASE_URL=postgresql://… (CI does)",
    ),
    pytest.mark.wall_clock("the worker subprocesses hold leases on the machine's clock"),
]

CUSTOMERS = 300
CHAINS = ("one", "two", "three")
DEADLINE = 90.0

def _setup() -> None:
    store = open_store("caps", caps=(2, 2, 7))  # two messages a week
    phone_customers(store, CUSTOMERS)
    for slug in CHAINS:
        flow = one_step_chain(slug, expires="30d")
        assert enroll_many(flow, Customer.objects.all(), store=store) == CUSTOMERS


def _settled() -> bool:
    """Every touch decided: sent, or sent back to the queue by the cap for next week."""
    now = clock.now()
    return not Touch.objects.filter(state="queued", due_at__lte=now).exists()


@pytest.mark.django_db(transaction=True)
def test_three_workers_never_let_two_touches_of_one_customer_pass_the_cap_together(
    tmp_path: Path,
) -> None:
    _setup()
    with crash_sink() as (sink, url):
        env = {
            **os.environ,
            "TOUCHFLOW_DATABASE_URL": _database_url(),
            "TOUCHFLOW_CHANNELS": f"sms={url}",
        }
        workers = Workers(env, tmp_path, batch=10)
        try:
            for _ in range(3):
                workers.start()
            deadline = time.monotonic() + DEADLINE
            while time.monotonic() < deadline and not _settled():
                time.sleep(0.25)
            settled = _settled()
        finally:
            workers.stop_all()
    assert settled, "the workers did not decide every due touch in time"
    phones = dict(ContactPoint.objects.values_list("value", "customer_id"))
    received = Counter(phones[to] for to in sink.addresses)
    assert len(received) == CUSTOMERS  # every customer got their two
    assert max(received.values()) == 2, f"{sum(n > 2 for n in received.values())} over the cap"
    states = Counter(Touch.objects.values_list("state", flat=True))
    assert states == {"sent": 2 * CUSTOMERS, "queued": CUSTOMERS}
    # The third touch of each customer waits for the cap period to pass.
    assert not Touch.objects.filter(state="queued", due_at__lte=clock.now()).exists()
