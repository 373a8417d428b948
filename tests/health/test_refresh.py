"""A store's relationship health rebuilt from its records (``health.actions.refresh``):
on small histories whose answers are known by hand, per store, in a constant number of
queries whatever the number of customers."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.health.conftest import TODAY, People, at, bulk
from tests.health.simulation import simulate
from touchflow.customers.models import Customer
from touchflow.delivery.models import CallTask, TaskState, Touch
from touchflow.flows.actions import load_flow_text
from touchflow.flows.models import Enrollment
from touchflow.funnel.chains import set_status
from touchflow.health import bgnbd, rules
from touchflow.health.actions import refresh
from touchflow.health.bgnbd import Params
from touchflow.health.models import CustomerHealth, FitNote, StoreFit
from touchflow.privacy.actor import Requester
from touchflow.privacy.erase import erase_customer
from touchflow.purchases.models import Purchase
from touchflow.stores.models import Staff, Store
from touchflow.timeline import events

pytestmark = pytest.mark.django_db


def health(customer: Customer, store: Store) -> CustomerHealth:
    return CustomerHealth.objects.get(customer=customer, store=store)


def test_a_regular_quiet_for_three_of_their_gaps_is_cold_by_their_own_rhythm(
        store: Store, people: People) -> None:
    regular = people.buys(store, people.customer(store), 60, 50, 40, 30)

    refresh(store, TODAY)

    row = health(regular, store)
    assert (row.segment, row.rhythm_source, row.rhythm_days) == ("buyers", "own", 10.0)
    assert (row.last_purchase_on, row.last_contact_on) == (TODAY - timedelta(30), None)
    assert (row.purchase_days, row.days_since, row.days_overdue, row.ratio) == (4, 30, 20.0,
                                                                                 3.0)
    assert (row.cold, row.reason) == (True, "overdue_own_rhythm")
    assert (row.p_alive, row.expected_90d) == (None, None)  # no fit: 1 repeat buyer


def test_one_purchase_is_measured_against_the_store_rhythm(store: Store,
                                                           people: People) -> None:
    people.buys(store, people.customer(store), 60, 50, 40, 30)  # rhythm 10
    people.buys(store, people.customer(store), 44, 30, 14, 2)  # rhythm 14
    once_long_ago = people.buys(store, people.customer(store), 40)
    once_lately = people.buys(store, people.customer(store), 20)
    twice = people.buys(store, people.customer(store), 29, 27)  # one gap: no own rhythm

    fit = refresh(store, TODAY)

    assert fit.store_rhythm_days == 12.0  # the median of 10 and 14
    assert [(health(c, store).rhythm_source, health(c, store).rhythm_days,
             health(c, store).ratio, health(c, store).cold, health(c, store).reason)
            for c in (once_long_ago, once_lately, twice)] == [
        ("store", 12.0, 40 / 12, True, "overdue_store_rhythm"),
        # Two store rhythms: cold by 1.5 of one's own, not by the store's (rules).
        ("store", 12.0, 20 / 12, False, "in_rhythm"),
        ("store", 12.0, 27 / 12, False, "in_rhythm"),
    ]
    assert rules.OWN_RHYTHM_COLD < 20 / 12 < rules.STORE_RHYTHM_COLD


def test_a_recent_reply_a_staff_answer_or_a_call_counts_a_stop_does_not(
        store: Store, people: People, manager: Staff) -> None:
    wrote = people.buys(store, people.customer(store), 60, 50, 40, 30)
    people.writes(store, wrote, 2)
    stopped = people.buys(store, people.customer(store), 60, 50, 40, 30)
    people.writes(store, stopped, 1, stop=True)
    answered = people.buys(store, people.customer(store), 60, 50, 40, 30)
    events.reply_sent(answered.pk, at(store, 3), store_id=store.pk, staff_id=manager.pk,
                      channel="sms", text="Thanks!", to="+48501000000", provider_id="x",
                      bought=True)
    called = people.buys(store, people.customer(store), 60, 50, 40, 30)
    _call(store, called, 4, "reached")
    unanswered = people.buys(store, people.customer(store), 60, 50, 40, 30)
    _call(store, unanswered, 4, "no_answer")

    refresh(store, TODAY)

    assert [(health(c, store).last_contact_on, health(c, store).days_since,
             health(c, store).cold)
            for c in (wrote, stopped, answered, called, unanswered)] == [
        (TODAY - timedelta(2), 2, False),
        (None, 30, True),
        (TODAY - timedelta(3), 3, False),
        (TODAY - timedelta(4), 4, False),
        (None, 30, True),
    ]


def _call(store: Store, customer: Customer, days_ago: int, result: str) -> None:
    flow = set_status(load_flow_text(CALL_CHAIN, "call.yaml").flow, "active")
    enrollment = Enrollment.objects.create(flow=flow, customer=customer, store=store,
                                           entered_at=at(store, days_ago + 1))
    touch = Touch.objects.create(enrollment=enrollment, step=flow.steps.get(),
                                 customer=customer, store=store, due_at=at(store, days_ago),
                                 expires_at=at(store, days_ago - 1),
                                 idempotency_key=f"k{customer.pk}", created_at=at(store, 9))
    CallTask.objects.create(touch=touch, customer=customer, store=store, script="Call.",
                            due_at=at(store, days_ago), state=TaskState.DONE, result=result,
                            done_at=at(store, days_ago))


CALL_CHAIN = """\
slug: call-back
name: Call back
audience: {trigger: visit, visit_class: [type3]}
steps:
  - key: ring
    kind: call
    after: 1h
    expires: 1d
    script:
      en: "Call them."
"""


def test_prospects_are_measured_against_the_store_visit_rhythm(store: Store,
                                                               people: People) -> None:
    weekly = people.visits(store, "+48501000101", 70, 63, 56)  # visits every 7 days
    once = people.visits(store, "+48501000102", 10)
    long_ago = people.visits(store, "+48501000103", 30)

    fit = refresh(store, TODAY)

    assert (fit.visit_rhythm_days, fit.store_rhythm_days, fit.prospects) == (7.0, None, 3)
    rows = {c: health(c, store) for c in (weekly, once, long_ago)}
    assert {(r.segment, r.rhythm_source, r.rhythm_days) for r in rows.values()} == {
        ("prospects", "visits", 7.0)}
    assert [(rows[c].days_since, rows[c].cold, rows[c].reason)
            for c in (weekly, once, long_ago)] == [
        (56, True, "overdue_visit_rhythm"), (10, False, "in_rhythm"),
        (30, True, "overdue_visit_rhythm")]


def test_a_store_with_no_rhythm_yet_marks_nobody(store: Store, people: People) -> None:
    lone = people.buys(store, people.customer(store), 300)

    fit = refresh(store, TODAY)

    row = health(lone, store)
    assert (fit.store_rhythm_days, row.rhythm_days, row.rhythm_source, row.ratio) == (
        None, None, "", None)
    assert (row.days_since, row.cold, row.reason) == (300, False, "no_rhythm")


def test_merged_tombstones_and_erased_customers_are_never_marked(store: Store,
                                                                 people: People) -> None:
    survivor = people.buys(store, people.customer(store), 60, 50, 40, 30)
    tombstone = people.buys(store, people.customer(store), 60, 50, 40, 30)
    # Whatever rows still point at a tombstone, it is never marked.
    Customer.objects.filter(pk=tombstone.pk).update(merged_into=survivor)
    erased = people.buys(store, people.customer(store), 60, 50, 40, 30)
    erase_customer(erased.pk, Requester.cli())

    fit = refresh(store, TODAY)

    assert list(CustomerHealth.objects.values_list("customer_id", flat=True)) == [survivor.pk]
    assert (fit.buyers, fit.cold_buyers) == (1, 1)
    # Their purchases still count in the store's own numbers.
    assert Purchase.objects.filter(customer=erased).count() == 4


def test_each_store_sees_a_customer_only_through_its_own_records(
        store: Store, krakow: Store, people: People) -> None:
    shared = people.buys(store, people.customer(store), 60, 50, 40, 30)
    people.buys(krakow, shared, 3)
    people.writes(krakow, shared, 1)  # Krakow heard from them: Warsaw did not

    refresh(store, TODAY)
    refresh(krakow, TODAY)

    warsaw, there = health(shared, store), health(shared, krakow)
    assert (warsaw.purchase_days, warsaw.last_purchase_on, warsaw.last_contact_on,
            warsaw.cold) == (4, TODAY - timedelta(30), None, True)
    assert (there.purchase_days, there.last_purchase_on, there.last_contact_on,
            there.reason) == (1, TODAY - timedelta(3), TODAY - timedelta(1), "no_rhythm")


def test_refresh_replaces_the_store_rows_and_leaves_other_stores_alone(
        store: Store, krakow: Store, people: People) -> None:
    kept = people.buys(krakow, people.customer(krakow), 5)
    refresh(krakow, TODAY)
    gone = people.buys(store, people.customer(store), 50, 40, 30)
    refresh(store, TODAY)
    Customer.objects.filter(pk=gone.pk).update(merged_into=kept)

    fit = refresh(store, TODAY + timedelta(days=1))

    assert list(CustomerHealth.objects.values_list("customer_id", "store_id")) == [
        (kept.pk, krakow.pk)]
    assert (fit.as_of, fit.buyers, fit.claimed_until, StoreFit.objects.count()) == (
        TODAY + timedelta(days=1), 0, None, 2)


def test_history_after_today_is_left_out(store: Store, people: People) -> None:
    customer = people.buys(store, people.customer(store), 60, 50, 40, 30, 1)

    refresh(store, TODAY - timedelta(days=10))

    row = health(customer, store)
    assert (row.last_purchase_on, row.purchase_days, row.days_since) == (
        TODAY - timedelta(30), 4, 20)


def test_refresh_reads_in_a_constant_number_of_queries(store: Store, people: People) -> None:
    def queries(customers: int) -> int:
        for _ in range(customers):
            customer = people.buys(store, people.customer(store), 40, 20)
            people.writes(store, customer, 5)
            people.visits(store, f"+4850177{people.made:04d}", 8)
        with CaptureQueriesContext(connection) as captured:
            refresh(store, TODAY)
        return len(captured)

    assert queries(2) == queries(12)


def test_a_store_with_enough_history_gets_a_fit_and_p_alive_for_repeat_buyers(
        store: Store) -> None:
    customers = bulk(store, _simulated(400, seed=4))

    fit = refresh(store, TODAY)

    assert (fit.note, fit.detail) == (FitNote.FITTED, "")
    assert fit.repeat_buyers >= 100
    assert all(v is not None and v > 0 for v in (fit.r, fit.alpha, fit.a, fit.b))
    rows = {h.customer_id: h for h in CustomerHealth.objects.filter(store=store)}
    assert len(rows) == len(customers) == fit.buyers
    repeat = {c.pk for c, days in customers.items() if len(days) > 1}
    assert {pk for pk, h in rows.items() if h.p_alive is not None} == repeat
    assert all(0 <= h.p_alive <= 1 for h in rows.values() if h.p_alive is not None)
    assert all(h.expected_90d is not None and h.expected_90d >= 0 for h in rows.values())
    assert all(h.cold == (h.reason in ("overdue_own_rhythm", "overdue_store_rhythm",
                                       "p_alive_low")) for h in rows.values())
    gone = [h for h in rows.values() if h.p_alive is not None and h.p_alive < 0.5]
    assert gone and all(h.cold for h in gone)


def test_a_fit_that_fails_leaves_the_rhythm_alone_and_says_why(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Customers who keep their own steady pace and never leave: nothing tells the model
    how customers leave. Whether the optimiser gives up on such data or stops at a
    useless optimum depends on the machine's floating point (it gave up on one machine,
    converged on another), so here the real optimiser is allowed a single iteration: it
    gives up (``bgnbd.FitError``), there is no fit, and the rhythms judge alone."""
    real = bgnbd.optimize.minimize

    def gives_up(*args: Any, **kwargs: Any) -> Any:
        return real(*args, **{**kwargs, "options": {"maxiter": 1}})

    monkeypatch.setattr(bgnbd.optimize, "minimize", gives_up)
    rng = np.random.default_rng(4)
    histories = []
    for _ in range(160):
        start, gap = int(rng.integers(200, 400)), int(rng.integers(5, 60))
        times = int(rng.integers(1, 9))
        histories.append(sorted({max(0, start - gap * k) for k in range(times)}))
    bulk(store, histories)

    fit = refresh(store, TODAY)

    assert (fit.note, fit.r, fit.a) == (FitNote.FIT_FAILED, None, None)
    assert fit.detail.startswith("the BG/NBD fit did not converge: ")
    assert not CustomerHealth.objects.filter(p_alive__isnull=False).exists()
    assert CustomerHealth.objects.filter(cold=True).exists()


def test_a_store_short_of_history_has_no_fit_and_says_so(store: Store,
                                                         people: People) -> None:
    people.buys(store, people.customer(store), 60, 50, 40, 30)

    fit = refresh(store, TODAY)

    assert (fit.note, fit.r, fit.alpha, fit.a, fit.b, fit.repeat_buyers) == (
        FitNote.SHORT_HISTORY, None, None, None, None, 1)


def _simulated(customers: int, seed: int) -> list[list[int]]:
    """Purchase days (days before ``TODAY``) of customers drawn from the BG/NBD story
    (``tests.health.simulation``): the first ``T`` days ago, the last ``T - t_x`` days
    ago, the repeat purchases between them."""
    rng = np.random.default_rng(seed)
    drawn = simulate(Params(r=0.5, alpha=20.0, a=0.8, b=2.5),
                     rng.uniform(180, 400, customers), 0.0, rng)
    histories = []
    for x, t_x, age in zip(drawn.x, drawn.t_x, drawn.T, strict=True):
        first, last = int(age), int(age - t_x)
        between = rng.integers(last, first + 1, max(int(x) - 1, 0)).tolist()
        histories.append(sorted({first, last, *between} if x else {first}, reverse=True))
    return histories


def test_dates_are_the_store_calendar_days(make_store: object, people: People) -> None:
    """A purchase at midnight in Warsaw (22:00 UTC the day before) is Warsaw's day."""
    warsaw = make_store(slug="waw", time_zone="Europe/Warsaw")  # type: ignore[operator]
    customer = people.customer(warsaw)
    Purchase.objects.create(customer=customer, store=warsaw, occurred_at=at(warsaw, 5, hour=0),
                            amount=10, currency="PLN", source="api", created_at=at(warsaw, 0))

    refresh(warsaw, TODAY)

    assert health(customer, warsaw).last_purchase_on == date(2026, 5, 28)
