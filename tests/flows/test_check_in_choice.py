"""One check-in per purchase, from the chain that fits what was bought, and none while
the customer was asked recently (issue 10; ``flows.check_ins``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from tests.delivery.conftest import (  # noqa: F401
    Clock,
    clock,
    flows,
    make_dispatcher,
    sink,
    smtp,
)
from touchflow.customers.actions import ConsentGrant, ContactInput
from touchflow.demo import EXAMPLE_FLOWS
from touchflow.flows.actions import load_flow_dir
from touchflow.flows.check_ins import choose
from touchflow.flows.models import Enrollment, Flow
from touchflow.funnel.chains import set_status
from touchflow.funnel.purchases import Buyer, record_purchase
from touchflow.integrations.actor import Actor
from touchflow.purchases.models import Purchase
from touchflow.stores.models import Store

CHECK_INS = EXAMPLE_FLOWS / "check-ins"


def _flow(pk: int, slug: str, *categories: str) -> Flow:
    return Flow(pk=pk, slug=slug, categories=list(categories))


def test_a_chain_for_the_category_wins_and_the_first_to_ask_among_them() -> None:
    generic, sofa, tooth = _flow(1, "check-in"), _flow(2, "sofa", "furniture"), _flow(
        3, "tooth", "dentist")
    delays = {1: 3 * 86400, 2: 14 * 86400, 3: 2 * 86400}
    assert choose([generic, sofa], delays) is sofa  # specific beats generic, even later
    assert choose([generic, sofa, tooth], delays) is tooth  # then the first to ask
    assert choose([generic], delays) is generic
    assert choose([], delays) is None
    twin = _flow(4, "a-sofa", "furniture")
    assert choose([sofa, twin], {**delays, 4: 14 * 86400}) is twin  # a tie: by code


@pytest.fixture
def check_ins(flows: Any) -> dict[str, Flow]:  # noqa: F811
    results, errors = load_flow_dir(CHECK_INS)
    assert errors == []
    return {**flows, **{r.flow.slug: set_status(r.flow, "active") for r in results}}


@pytest.fixture
def buy(store: Store, clock: Clock, check_ins: Any) -> Callable[..., Purchase]:  # noqa: F811
    def make(*categories: str) -> Purchase:
        purchase, _ = record_purchase(
            store=store, actor=Actor(source="api"), amount="100.00",
            categories=categories, occurred_at=clock.now(),
            customer=Buyer(contacts=[ContactInput("phone", "+48501234567")], name="Anna",
                           consent=ConsentGrant(contact=True)),
        )
        return purchase

    return make


def _chains(purchase: Purchase) -> set[str]:
    return set(Enrollment.objects.filter(purchase=purchase).values_list("flow__slug", flat=True))


@pytest.mark.parametrize(("categories", "check_in"), [
    ((), "check-in"),
    (("furniture",), "check-in-furniture"),
    (("car_service",), "check-in-car-service"),
    (("furniture", "dentist"), "check-in-dentist"),  # one check-in, the first to ask
    (("garden",), "check-in"),  # no chain for the category: the general one
])
def test_a_purchase_gets_one_check_in_and_every_other_chain(
    buy: Callable[..., Purchase], categories: tuple[str, ...], check_in: str,
) -> None:
    purchase = buy(*categories)
    assert _chains(purchase) == {"loyalty", check_in}


def test_the_check_in_comes_after_the_categorys_delay(
    buy: Callable[..., Purchase], clock: Clock,  # noqa: F811
) -> None:
    purchase = buy("furniture")
    enrollment = Enrollment.objects.get(purchase=purchase, flow__slug="check-in-furniture")
    touch = enrollment.touches.get()
    assert timedelta(days=14) <= touch.due_at - purchase.occurred_at < timedelta(days=15)


def _finish(make_dispatcher: Callable[..., Any], clock: Clock,  # noqa: F811
            days: int) -> None:
    """Let ``days`` pass with the worker running: the check-ins go out (or expire) and
    their one-step chains end, so only the throttle can keep a customer from the next."""
    for _ in range(days):
        clock.advance(days=1)
        make_dispatcher().drain()


def test_asked_once_within_the_throttle_however_many_purchases(
    buy: Callable[..., Purchase], clock: Clock, make_dispatcher: Callable[..., Any],  # noqa: F811
) -> None:
    buy("dentist")
    _finish(make_dispatcher, clock, 10)
    assert not Enrollment.objects.filter(flow__slug="check-in-dentist", state="active").exists()
    assert "check-in-dentist" not in _chains(buy("dentist"))  # 10 days on: not again
    assert "check-in-furniture" not in _chains(buy("furniture"))  # nor another category
    _finish(make_dispatcher, clock, 21)  # 31 days after the first question
    assert "check-in-dentist" in _chains(buy("dentist"))
    asked = Enrollment.objects.filter(flow__slug__startswith="check-in")
    assert asked.count() == 2


def test_a_store_sets_its_own_throttle(
    buy: Callable[..., Purchase], clock: Clock, store: Store,  # noqa: F811
    make_dispatcher: Callable[..., Any],  # noqa: F811
) -> None:
    store.check_in_throttle_days = 7
    store.save()
    buy("dentist")
    _finish(make_dispatcher, clock, 8)
    assert "check-in-dentist" in _chains(buy("dentist"))
