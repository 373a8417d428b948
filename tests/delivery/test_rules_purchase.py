"""Issue 13: a purchase ends only the chains that exit on purchase, and only the
passages that began before it; what ends takes its open touches and call tasks along."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from tests.delivery.conftest import Clock
from tests.servers import Sink
from touchflow.delivery.dispatcher import Dispatcher
from touchflow.delivery.models import CallTask, Touch
from touchflow.flows.actions import load_flow_text
from touchflow.flows.models import Enrollment
from touchflow.flows.schedule import ended_by_purchase
from touchflow.funnel.chains import set_status
from touchflow.funnel.purchases import record_purchase
from touchflow.integrations.actor import Actor
from touchflow.privacy.actor import Requester
from touchflow.privacy.erase import erase_customer
from touchflow.stores.models import Staff, Store
from touchflow.visits.models import Visit


def at(hour: int) -> datetime:
    return datetime(2026, 6, 2, hour, 0, tzinfo=UTC)


def chain(slug: str, exit_on: str, *steps: str) -> str:
    return f"""\
slug: {slug}
name: {slug}
audience:
  trigger: visit
  visit_class: [type3]
exit_on: [{exit_on}]
steps:
""" + "".join(steps)


def sms(key: str, after: str) -> str:
    return f"""\
  - key: {key}
    kind: info
    after: {after}
    channels: [sms]
    message:
      en:
        text: "{key} from {{{{ store.name }}}}"
"""


def call(key: str, after: str) -> str:
    return f"""\
  - key: {key}
    kind: call
    after: {after}
    script:
      en: "Call {{{{ customer.name }}}}"
"""


def load(*texts: str) -> None:
    for text in texts:
        set_status(load_flow_text(text, "flows/rules.yaml").flow, "active")


def enrollments() -> list[tuple[str, datetime, str]]:
    return list(
        Enrollment.objects.order_by("flow__slug", "entered_at")
        .values_list("flow__slug", "entered_at", "state")
    )


@pytest.fixture
def buy(store: Store) -> Callable[[], None]:
    def make() -> None:
        customer = Touch.objects.first().customer  # type: ignore[union-attr]
        record_purchase(store=store, actor=Actor(source="api"), customer=customer, amount=500)

    return make


def test_a_purchase_ends_only_chains_that_exit_on_it_and_only_passages_begun_before_it(
    db: None, type3_visit: Callable[..., Visit], make_dispatcher: Callable[..., Dispatcher],
    clock: Clock, sink: tuple[Sink, str], buy: Callable[[], None],
) -> None:
    """Visit 09:00, purchase 10:00, visit 11:00; the worker runs at 14:00 with both
    chains' touches due in one batch. The opt-out-only chain's touch goes out, and the
    purchase chain's passage entered at 11:00 (after the purchase) goes on."""
    load(
        chain("opt", "opt_out", sms("later", "5h")),
        chain("buy", "purchase", sms("soon", "2h"), sms("next", "3d")),
    )
    clock.move_to(at(9))
    type3_visit()
    clock.move_to(at(10))
    buy()
    clock.move_to(at(11))
    type3_visit()
    assert enrollments() == [
        ("buy", at(9), "exited"), ("buy", at(11), "active"), ("opt", at(9), "active"),
    ]
    clock.move_to(at(14))
    make_dispatcher().drain()

    opt = Touch.objects.get(step__key="later")
    assert (opt.state, opt.reason) == ("sent", "")
    assert list(
        Touch.objects.filter(enrollment__entered_at=at(11)).order_by("id")
        .values_list("step__key", "state")
    ) == [("soon", "sent"), ("next", "queued")]
    assert enrollments() == [
        ("buy", at(9), "exited"), ("buy", at(11), "active"), ("opt", at(9), "completed"),
    ]
    assert sorted(m["text"].split("\n")[0] for m in sink[0].received) == [
        "later from Warsaw Centre", "soon from Warsaw Centre",
    ]


def test_a_purchase_recorded_late_spares_the_passage_begun_after_it(
    db: None, type3_visit: Callable[..., Visit], clock: Clock, store: Store,
) -> None:
    """The till reports a 10:00 sale at 12:00; the passage entered at 11:00 goes on."""
    load(chain("buy", "purchase", sms("soon", "5h")))
    clock.move_to(at(11))
    visit = type3_visit()
    clock.move_to(at(12))
    record_purchase(store=store, actor=Actor(source="api"), customer=visit.customer,  # type: ignore[arg-type]
                    amount=500, occurred_at=at(10))
    assert enrollments() == [("buy", at(11), "active")]
    assert Touch.objects.get().state == "queued"


def test_what_a_purchase_ends_takes_its_open_touches_and_call_tasks_along(
    db: None, type3_visit: Callable[..., Visit], make_dispatcher: Callable[..., Dispatcher],
    clock: Clock, buy: Callable[[], None], salesperson: Staff,
) -> None:
    load(chain("buy", "purchase", call("ring", "1h"), sms("after", "1d")))
    clock.move_to(at(9))
    type3_visit()
    clock.move_to(at(10))
    make_dispatcher().drain()
    task = CallTask.objects.get()
    assert task.state == "open"
    clock.move_to(at(11))
    buy()
    task.refresh_from_db()
    assert (task.state, task.done_at) == ("cancelled", at(11))
    assert list(Touch.objects.order_by("id").values_list("step__key", "state", "reason")) == [
        ("ring", "task", ""), ("after", "cancelled", "purchase"),
    ]


def test_a_paused_chains_held_touch_is_cancelled_when_its_passage_ends(
    db: None, type3_visit: Callable[..., Visit], make_dispatcher: Callable[..., Dispatcher],
    clock: Clock, buy: Callable[[], None],
) -> None:
    load(chain("buy", "purchase", sms("soon", "1h")))
    clock.move_to(at(9))
    type3_visit()
    from touchflow.flows.models import Flow

    set_status(Flow.objects.get(slug="buy"), "paused")
    clock.move_to(at(10))
    make_dispatcher().drain()
    assert Touch.objects.get().state == "paused"
    buy()
    assert Touch.objects.values_list("state", "reason").get() == ("cancelled", "purchase")


def test_erasure_cancels_open_call_tasks_through_the_same_owner(
    db: None, type3_visit: Callable[..., Visit], make_dispatcher: Callable[..., Dispatcher],
    clock: Clock, admin_staff: Staff,
) -> None:
    load(chain("ring", "opt_out", call("ring", "1h")))
    clock.move_to(at(9))
    visit = type3_visit()
    clock.move_to(at(10))
    make_dispatcher().drain()
    clock.move_to(at(11))
    erase_customer(visit.customer_id, Requester.of_staff(admin_staff))  # type: ignore[arg-type]
    assert CallTask.objects.values_list("state", "done_at").get() == ("cancelled", at(11))


@pytest.mark.parametrize(
    ("exit_on", "entered", "purchased", "ends"),
    [
        (("purchase", "opt_out"), at(9), at(10), True),
        (("opt_out",), at(9), at(10), False),
        (("purchase",), at(11), at(10), False),
        (("purchase",), at(10), at(10), False),  # the sale that started the passage
        (("purchase",), at(9), None, False),
    ],
)
def test_the_purchase_rule(
    exit_on: tuple[str, ...], entered: datetime, purchased: datetime | None, ends: bool
) -> None:
    assert ended_by_purchase(exit_on, entered, purchased) is ends
