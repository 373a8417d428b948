"""Last-touch credit (decision 0028): a sale, a reply or a STOP counts for the chain
whose message reached the customer last within the window before it — and the
dashboard's figures carry that chain."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from tests.delivery.conftest import Clock
from touchflow.delivery import credit
from touchflow.delivery.channels.null import NullChannel
from touchflow.delivery.credit import Credit
from touchflow.delivery.dispatcher import Dispatcher
from touchflow.delivery.models import Touch, TouchState
from touchflow.funnel.optout import opt_out
from touchflow.funnel.purchases import record_purchase
from touchflow.integrations.actor import Actor
from touchflow.stores.models import Store
from touchflow.timeline import figures
from touchflow.timeline.models import EventKind, TimelineEvent
from touchflow.visits.models import Visit

T = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)


def test_the_last_message_inside_the_window_gets_the_credit() -> None:
    a, b = Credit("warming", "hello"), Credit("offer", "discount")
    sent = [(T - timedelta(days=5), a), (T - timedelta(days=2), b), (T + timedelta(hours=1), a)]
    assert credit._last(sent, T - timedelta(days=14), T) == b
    assert credit._last(sent, T - timedelta(days=3), T) == b
    assert credit._last(sent, T - timedelta(days=1), T) == credit.NOBODY
    # A message after the moment answered nothing.
    assert credit._last(sent[:1] + sent[2:], T - timedelta(days=1), T) == credit.NOBODY
    assert credit._last([], T - timedelta(days=14), T) == credit.NOBODY


def _sent_touch(type3_visit: Callable[..., Visit], clock: Clock) -> Touch:
    """The warming chain's first message, sent (null channel) to a non-buyer."""
    type3_visit()
    clock.move_to(datetime(2026, 6, 2, 15, 0, tzinfo=UTC))  # its first step is due
    dispatcher = Dispatcher({"sms": NullChannel("sms"), "email": NullChannel("email")},
                            now=clock.now)
    dispatcher.drain()
    dispatcher.close()
    return Touch.objects.get(state=TouchState.SENT)


def _buy(store: Store, touch: Touch, at: datetime, clock: Clock, amount: str = "120.00"
         ) -> None:
    clock.move_to(at)
    record_purchase(store=store, actor=Actor(source="api"), customer=touch.customer,
                    amount=amount, occurred_at=at)


def test_a_purchase_after_a_chain_message_is_credited_to_it(
    type3_visit: Callable[..., Visit], clock: Clock, flows: Any, store: Store
) -> None:
    touch = _sent_touch(type3_visit, clock)
    assert touch.finished_at is not None
    _buy(store, touch, touch.finished_at + timedelta(days=3), clock)
    row = TimelineEvent.objects.get(kind=EventKind.PURCHASE)
    assert (row.data["flow"], row.data["step"]) == ("warming", touch.step.key)
    sales = figures.totals("purchase", stores=[store.pk], since=T.date() - timedelta(days=30),
                           until=T.date() + timedelta(days=30), by=["k2", "k3"])
    assert sales == {("warming", touch.step.key): (1, Decimal("120.00"))}


def test_a_purchase_outside_the_stores_window_is_nobodys(
    type3_visit: Callable[..., Visit], clock: Clock, flows: Any, store: Store
) -> None:
    store.attribution_days = 2
    store.save(update_fields=["attribution_days"])
    touch = _sent_touch(type3_visit, clock)
    assert touch.finished_at is not None
    _buy(store, touch, touch.finished_at + timedelta(days=3), clock)
    row = TimelineEvent.objects.get(kind=EventKind.PURCHASE)
    assert "flow" not in row.data
    sales = figures.totals("purchase", stores=[store.pk], since=T.date() - timedelta(days=30),
                           until=T.date() + timedelta(days=30), by=["k2"])
    assert sales == {("",): (1, Decimal("120.00"))}


def test_another_stores_message_earns_nothing(
    type3_visit: Callable[..., Visit], clock: Clock, flows: Any, store: Store,
    make_store: Callable[..., Store],
) -> None:
    touch = _sent_touch(type3_visit, clock)
    elsewhere = make_store(slug="elsewhere")
    assert touch.finished_at is not None
    assert credit.last_touch(elsewhere.pk, touch.customer_id, touch.finished_at + timedelta(
        days=1), timedelta(days=14)) == credit.NOBODY
    assert credit.last_touch(store.pk, touch.customer_id, touch.finished_at + timedelta(
        days=1), timedelta(days=14)) == ("warming", touch.step.key)


def test_a_stop_counts_against_the_chain_that_came_last(
    type3_visit: Callable[..., Visit], clock: Clock, flows: Any, store: Store
) -> None:
    touch = _sent_touch(type3_visit, clock)
    clock.advance(days=1)
    opt_out(touch.customer_id, "sms", True, store_id=store.pk, how="text", text="STOP")
    stops = figures.totals("stop", stores=[store.pk], since=T.date() - timedelta(days=30),
                           until=T.date() + timedelta(days=30), by=["k1", "k3"])
    assert stops == {("warming", "sms"): (1, Decimal(0))}
