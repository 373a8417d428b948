"""What a worker keeps between claims (``batch.Shared``): chains read again as soon as
they change, stores and sellers after ``max_age`` seconds on the worker's own clock."""

from __future__ import annotations

from datetime import time

from touchflow.delivery.batch import Shared
from touchflow.flows.actions import load_flow_text
from touchflow.flows.models import Flow
from touchflow.funnel.chains import set_status
from touchflow.stores.models import Store


class Monotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_chain_kept_between_claims_is_read_again_once_it_changes(
    flows: dict[str, Flow], django_assert_num_queries: object
) -> None:
    flow = flows["warming"]
    shared = Shared()
    held, steps = shared.chains({flow.pk})
    assert held[flow.pk].status == "active"
    assert {s.key for s in steps} == set(flow.steps.values_list("key", flat=True))

    with django_assert_num_queries(1):  # type: ignore[operator]  # only the stamps
        again, _steps = shared.chains({flow.pk})
    assert again[flow.pk] is held[flow.pk]

    set_status(flow, "paused")
    paused, _steps = shared.chains({flow.pk})
    assert paused[flow.pk].status == "paused"

    text = flow.source_text.replace("key: how-to-choose", "key: choosing", 1)
    assert text != flow.source_text
    load_flow_text(text)
    _flows, steps = shared.chains({flow.pk})
    assert "choosing" in {s.key for s in steps}
    assert all(s.flow is _flows[flow.pk] for s in steps)


def test_stores_are_kept_for_max_age_seconds_of_the_workers_clock(store: Store) -> None:
    clock = Monotonic()
    shared = Shared(max_age=5.0, monotonic=clock)
    shared.people({store.pk}, set())
    before = shared.stores[store.pk].quiet_hours_start

    Store.objects.filter(pk=store.pk).update(quiet_hours_start=time(19, 30))
    clock.now += 4.9
    shared.people({store.pk}, set())
    assert shared.stores[store.pk].quiet_hours_start == before

    clock.now += 0.2
    shared.people({store.pk}, set())
    assert shared.stores[store.pk].quiet_hours_start == time(19, 30)
