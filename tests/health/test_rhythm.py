"""How overdue a customer is: their own rhythm, the store's when they have too little
history, the later of purchase and two-way contact, and refusals by argument. Every date
is written out: nothing here reads a clock."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Any

import pytest

from touchflow.core.errors import InvalidInput
from touchflow.health.rhythm import Overdue, overdue, own_rhythm, purchase_gaps, store_rhythm

TODAY = date(2026, 6, 2)
# Gaps of 10, 30 and 20 days: median 20.
REGULAR = [date(2026, 3, 1), date(2026, 3, 11), date(2026, 4, 10), date(2026, 4, 30)]


def test_gaps_are_between_purchase_days_in_order_same_day_purchases_counting_once() -> None:
    days = [date(2026, 4, 30), date(2026, 3, 1), date(2026, 3, 11), date(2026, 3, 11)]

    assert purchase_gaps(days) == [10, 50]


def test_the_rhythm_is_the_median_gap() -> None:
    assert own_rhythm(REGULAR) == 20.0
    assert own_rhythm(REGULAR[:3]) == 20.0  # two gaps, 10 and 30: their middle


def test_one_gap_is_no_rhythm() -> None:
    assert own_rhythm(REGULAR[:2]) is None
    assert own_rhythm([date(2026, 3, 1), date(2026, 3, 1), date(2026, 3, 11)]) is None
    assert own_rhythm([]) is None


def test_the_store_rhythm_is_the_median_of_its_customers_rhythms() -> None:
    weekly = [date(2026, 5, d) for d in (1, 8, 15, 22, 29)]  # 7 days, however many gaps
    monthly = [date(2026, m, 1) for m in (1, 2, 3)]  # 31 and 28 days: 29.5
    once = [date(2026, 5, 5)]

    assert store_rhythm([weekly, REGULAR, monthly, once]) == 20.0
    assert store_rhythm([once, REGULAR[:2]]) is None


def test_a_customer_with_a_rhythm_is_measured_against_it() -> None:
    # Last purchase 30 April: 33 days ago, 13 past a 20-day rhythm.
    assert overdue(REGULAR, None, 45.0, TODAY) == Overdue(
        rhythm_days=20.0, own_rhythm=True, days_since=33, days_overdue=13.0, ratio=1.65)


def test_too_little_history_falls_back_to_the_stores_rhythm() -> None:
    result = overdue(REGULAR[:2], None, 45.0, TODAY)  # last purchase 11 March: 83 days

    assert result == Overdue(rhythm_days=45.0, own_rhythm=False, days_since=83,
                             days_overdue=38.0, ratio=pytest.approx(83 / 45))


def test_a_two_way_contact_since_the_last_purchase_restarts_the_count() -> None:
    result = overdue(REGULAR, date(2026, 5, 20), 45.0, TODAY)

    assert (result.days_since, result.days_overdue) == (13, 0.0)
    assert result.ratio == pytest.approx(13 / 20)


def test_a_contact_before_the_last_purchase_changes_nothing() -> None:
    assert overdue(REGULAR, date(2026, 4, 1), 45.0, TODAY) == overdue(REGULAR, None, 45.0,
                                                                       TODAY)


def test_a_customer_known_only_by_a_contact_counts_from_it_against_the_store() -> None:
    result = overdue([], date(2026, 5, 1), 10.0, TODAY)

    assert result == Overdue(rhythm_days=10.0, own_rhythm=False, days_since=32,
                             days_overdue=22.0, ratio=3.2)


def test_not_yet_due_is_zero_days_overdue_and_a_ratio_below_one() -> None:
    result = overdue(REGULAR, None, 45.0, date(2026, 5, 10))

    assert (result.days_since, result.days_overdue, result.ratio) == (10, 0.0, 0.5)


def test_a_purchase_today_is_zero_days_since() -> None:
    assert overdue([*REGULAR, TODAY], None, 45.0, TODAY).days_since == 0


@pytest.mark.parametrize(("purchases", "contact", "rhythm", "today", "argument"), [
    ([], None, 30.0, TODAY, "purchases"),
    ([date(2026, 6, 3)], None, 30.0, TODAY, "purchases"),
    (REGULAR, date(2026, 6, 3), 30.0, TODAY, "last_contact"),
    (REGULAR, None, 0.0, TODAY, "store_rhythm_days"),
    (REGULAR, None, -5.0, TODAY, "store_rhythm_days"),
    (REGULAR, None, math.nan, TODAY, "store_rhythm_days"),
    (REGULAR, None, math.inf, TODAY, "store_rhythm_days"),
    ([datetime(2026, 5, 1, 23, 30, tzinfo=UTC)], None, 30.0, TODAY, "purchases"),
    (REGULAR, datetime(2026, 5, 1, tzinfo=UTC), 30.0, TODAY, "last_contact"),
    (REGULAR, None, 30.0, datetime(2026, 6, 2, tzinfo=UTC), "today"),
    (["2026-05-01"], None, 30.0, TODAY, "purchases"),
])
def test_bad_input_is_refused_by_argument(purchases: Any, contact: Any, rhythm: float,
                                          today: Any, argument: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        overdue(purchases, contact, rhythm, today)

    assert raised.value.field == argument


def test_the_refusal_of_a_future_purchase_names_both_days() -> None:
    with pytest.raises(InvalidInput, match=r"purchases: 2026-06-03 is after today "
                                           r"\(2026-06-02\)"):
        overdue([date(2026, 6, 3)], None, 30.0, TODAY)
