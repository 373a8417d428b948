"""Which check-in a purchase gets: one, from the chain that fits what was bought, and
none while the customer was asked recently (seed 003; issue 10).

A check-in chain is a purchase chain with a ``check_in`` step. Each product or service
category may have its own (dentist after 2 days, car service after 7, furniture after
14: ``audience.categories`` in the chain file). A purchase whose categories match
several gets one: a chain made for one of its categories wins over a chain for every
purchase, and among those the one that asks first. A customer asked by the store in
the last ``Store.check_in_throttle_days`` (30 by default) is not asked again, however
many purchases they make; the purchase's other chains go on as before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from touchflow.flows.models import Enrollment, Flow, FlowStep
from touchflow.stores.models import Store

CHECK_IN = "check_in"


def choose(asking: Sequence[Flow], delays: Mapping[int, int]) -> Flow | None:
    """The one check-in chain among ``asking`` (``delays``: chain id → seconds before its
    first check-in step, counted from entry as written)."""
    specific = [f for f in asking if f.categories] or list(asking)
    return min(specific, key=lambda f: (delays[f.pk], f.slug), default=None)


def one_check_in(flows: Sequence[Flow], customer_id: int, store: Store,
                 at: datetime) -> list[Flow]:
    """``flows`` (the purchase chains that match a purchase) with at most one check-in
    chain left among them, and none if the store asked the customer recently."""
    delays = check_in_delays([f.pk for f in flows])
    if not delays:
        return list(flows)
    asking = [f for f in flows if f.pk in delays]
    recent = asked_since(customer_id, store.pk, at - timedelta(days=store.check_in_throttle_days))
    keep = None if recent else choose(asking, delays)
    return [f for f in flows if f.pk not in delays or f is keep]


def check_in_delays(flow_ids: Sequence[int]) -> dict[int, int]:
    """Chain id → the delay of its first live check-in step, for the chains that have one."""
    delays: dict[int, int] = {}
    steps = FlowStep.objects.filter(flow_id__in=flow_ids, kind=CHECK_IN, retired=False)
    for flow_id, delay in steps.order_by("position").values_list("flow_id", "delay_seconds"):
        delays.setdefault(flow_id, delay)
    return delays


def asked_since(customer_id: int, store_id: int, since: datetime) -> bool:
    """Whether the store put the customer into a check-in chain after ``since``."""
    asking = FlowStep.objects.filter(kind=CHECK_IN).values("flow_id")
    return Enrollment.objects.filter(
        customer_id=customer_id, store_id=store_id, flow_id__in=asking, entered_at__gt=since,
    ).exists()
