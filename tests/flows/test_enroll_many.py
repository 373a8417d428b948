from __future__ import annotations

from datetime import UTC, datetime

import time_machine

from touchflow.customers.models import Customer
from touchflow.delivery.enrollments import enroll_many
from touchflow.delivery.models import Touch
from touchflow.flows.actions import load_flow_text
from touchflow.flows.models import Enrollment
from touchflow.funnel.chains import set_status
from touchflow.funnel.customers import resolve_customer
from touchflow.integrations.actor import Actor
from touchflow.stores.models import Store
from touchflow.timeline import figures
from touchflow.timeline.models import TimelineEvent

CHAIN = """\
slug: winback
name: Win back
audience: {trigger: purchase}
steps:
  - key: hello
    kind: info
    after: 1d
    at: "11:00"
    channels: [email]
    message:
      en: {subject: Hi, text: "Hello {{ customer.first_name }}"}
"""


def test_a_segment_is_enrolled_once_with_due_times_in_each_customers_zone(store: Store) -> None:
    flow = load_flow_text(CHAIN).flow
    set_status(flow, "active")
    api = Actor(source="import")
    for n, tz in enumerate(["Europe/Warsaw", "Europe/Warsaw", "Asia/Tokyo"]):
        resolve_customer(store=store, actor=api, external_id=f"c{n}", time_zone=tz)
    start = datetime(2026, 6, 2, 12, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        entered = enroll_many(flow, Customer.active.all(), store=store)
        again = enroll_many(flow, Customer.active.all(), store=store)
    assert (entered, again) == (3, 0)
    assert Enrollment.objects.filter(state="active").count() == 3
    due = sorted((t.customer.time_zone, t.due_at) for t in Touch.objects.select_related("customer"))
    assert due == [
        ("Asia/Tokyo", datetime(2026, 6, 4, 2, 0, tzinfo=UTC)),  # 21:00 JST + wait to 11:00
        ("Europe/Warsaw", datetime(2026, 6, 4, 9, 0, tzinfo=UTC)),  # 14:00 CEST + wait to 11:00
        ("Europe/Warsaw", datetime(2026, 6, 4, 9, 0, tzinfo=UTC)),
    ]
    keys = set(Touch.objects.values_list("idempotency_key", flat=True))
    assert len(keys) == 3 and all(len(k) == 32 for k in keys)
    rows = TimelineEvent.objects.filter(kind="enrolled")
    assert rows.count() == 3
    assert rows.first().data == {"flow": "winback", "flow_name": "Win back"}
    # The dashboard counts them as the timeline has them: three, in one row per call.
    kept = figures.snapshot()
    assert [n for key, (n, _a) in kept.items() if key[3] == "enrolled"] == [3]
    figures.rebuild()
    assert figures.snapshot() == kept
