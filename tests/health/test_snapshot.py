"""The whole-store computation (``health.snapshot``) against the one-customer rules it
batches (``health.rhythm``), and the verdict's rules on hand-made stores. No database;
hypothesis runs derandomized."""

from __future__ import annotations

import math
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from touchflow.health import rhythm
from touchflow.health.bgnbd import Params
from touchflow.health.models import FitNote
from touchflow.health.snapshot import Fit, Histories, Inputs, assess, store_rhythm, summarise

TODAY = date(2026, 6, 2)
DETERMINISTIC = settings(derandomize=True, database=None, deadline=None, max_examples=200)
NO_FIT = Fit(None, FitNote.SHORT_HISTORY)

# Per customer: purchase days (days before today) and, maybe, a later two-way contact.
customers = st.lists(
    st.tuples(st.lists(st.integers(0, 400), min_size=1, max_size=8),
              st.one_of(st.none(), st.integers(0, 400))),
    min_size=1, max_size=12)


def histories(rows: dict[int, list[date]]) -> Histories:
    return summarise((pk, day) for pk in sorted(rows) for day in sorted(set(rows[pk])))


def empty() -> Histories:
    return summarise([])


@DETERMINISTIC
@given(customers)
def test_the_batch_is_rhythm_overdue_customer_by_customer(
        drawn: list[tuple[list[int], int | None]]) -> None:
    days = {pk: [TODAY - timedelta(d) for d in ago] for pk, (ago, _c) in enumerate(drawn, 1)}
    contacts = {pk: TODAY - timedelta(c) for pk, (_a, c) in enumerate(drawn, 1)
                if c is not None}
    store_days = rhythm.store_rhythm(days.values())
    purchases = histories(days)
    assert store_rhythm(purchases) == store_days
    inputs = Inputs(TODAY, purchases, empty(), {pk: d.toordinal() for pk, d in contacts.items()},
                    ())

    result = assess(inputs, NO_FIT, store_days, None)

    assert result.ids.tolist() == sorted(days)
    for i, pk in enumerate(result.ids.tolist()):
        if store_days is None and rhythm.own_rhythm(days[pk]) is None:
            assert math.isnan(result.rhythm_days[i]) and result.reasons()[i] == "no_rhythm"
            continue
        expected = rhythm.overdue(days[pk], contacts.get(pk), store_days or 1.0, TODAY)
        assert (result.rhythm_days[i], result.sources()[i] == "own", int(result.days_since[i]),
                result.days_overdue[i], result.ratio[i]) == (
            expected.rhythm_days, expected.own_rhythm, expected.days_since,
            expected.days_overdue, expected.ratio)


def test_buyers_and_prospects_and_who_is_left_out() -> None:
    day = TODAY.toordinal()
    purchases = histories({1: [TODAY - timedelta(30)], 3: [TODAY - timedelta(5)]})
    visits = histories({2: [TODAY - timedelta(d) for d in (40, 30, 20)],
                        3: [TODAY - timedelta(1)], 4: [TODAY - timedelta(3)]})
    inputs = Inputs(TODAY, purchases, visits, {1: day - 2, 9: day}, excluded={4})

    result = assess(inputs, NO_FIT, None, 10.0)

    assert result.ids.tolist() == [1, 2, 3]  # 9: a contact alone makes no row; 4 excluded
    assert result.buyer.tolist() == [True, False, True]
    assert result.days_since.tolist() == [2, 20, 1]
    # Buyers without a rhythm of their own take the store's, which it has none of; the
    # prospect takes the visit rhythm.
    assert result.sources() == ["", "visits", ""]
    assert result.cold.tolist() == [False, False, False]
    assert result.reasons() == ["no_rhythm", "in_rhythm", "no_rhythm"]


def test_p_alive_below_a_half_marks_a_repeat_buyer_who_is_not_overdue() -> None:
    """A customer who used to buy every 100 days, last 50 days ago: in rhythm by their own
    pace; but in a store whose customers buy daily and leave easily the model thinks
    them gone."""
    days = {1: [TODAY - timedelta(d) for d in (250, 150, 50)], 2: [TODAY - timedelta(7)]}
    inputs = Inputs(TODAY, histories(days), empty(), {}, ())
    fitted = Fit(Params(r=1.0, alpha=1.0, a=5.0, b=1.0), FitNote.FITTED)

    result = assess(inputs, fitted, 100.0, None)

    assert result.ratio.tolist() == [0.5, 0.07]
    assert result.p_alive[0] < 0.5 and math.isnan(result.p_alive[1])  # one-time: no p_alive
    assert (result.expected >= 0).all()
    assert result.cold.tolist() == [True, False]
    assert result.reasons() == ["p_alive_low", "in_rhythm"]


def test_thresholds_differ_for_own_and_store_rhythms() -> None:
    # Own rhythm 10: cold from 15 days; the store's 10 for a one-time buyer: from 25.
    days = {1: [TODAY - timedelta(d) for d in (35, 25, 15)], 2: [TODAY - timedelta(15)],
            3: [TODAY - timedelta(25)]}
    result = assess(Inputs(TODAY, histories(days), empty(), {}, ()), NO_FIT, 10.0, None)

    assert result.cold.tolist() == [True, False, True]
    assert result.reasons() == ["overdue_own_rhythm", "in_rhythm",
                                      "overdue_store_rhythm"]


def test_an_empty_store_has_no_rows() -> None:
    result = assess(Inputs(TODAY, empty(), empty(), {}, ()), NO_FIT, None, None)

    assert result.ids.size == 0 and result.cold.size == 0
    assert result.reasons() == []
