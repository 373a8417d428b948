"""Relationship health as properties, for any parameters and customers: the longer a
repeat buyer has been silent the less likely they are still active and the fewer
purchases to expect; a longer horizon never expects fewer; overdue only grows as the
days pass. No database; hypothesis runs derandomized (the same examples every run) and
keeps no example database between runs."""

from __future__ import annotations

import math
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from touchflow.health.bgnbd import Params, expected_purchases, p_alive
from touchflow.health.rhythm import overdue, own_rhythm, purchase_gaps

DETERMINISTIC = settings(derandomize=True, database=None, deadline=None, max_examples=300)
# Monotone up to rounding: hyp2f1 and the exponentials carry a few ulps of noise.
SLACK = 1e-9

params = st.builds(
    Params,
    r=st.floats(0.05, 5.0), alpha=st.floats(0.5, 200.0),
    a=st.floats(0.05, 5.0), b=st.floats(0.05, 10.0),
)


@st.composite
def repeat_buyers(draw: st.DrawFn) -> tuple[int, float, float]:
    """(x, t_x, T) for a customer with at least one repeat purchase, in days."""
    x = draw(st.integers(1, 200))
    T = draw(st.floats(1.0, 1000.0))
    t_x = draw(st.floats(0.01, 1.0)) * T
    return x, t_x, T


def _p(p: Params, x: int, t_x: float, T: float) -> float:
    return float(p_alive(p, [x], [t_x], [T])[0])


def _e(p: Params, t: float, x: int, t_x: float, T: float) -> float:
    return float(expected_purchases(p, t, [x], [t_x], [T])[0])


@DETERMINISTIC
@given(params, repeat_buyers(), st.floats(0.0, 500.0))
def test_a_longer_silence_means_less_likely_alive_and_fewer_purchases(
        p: Params, customer: tuple[int, float, float], more: float) -> None:
    x, t_x, T = customer

    assert 0 <= _p(p, x, t_x, T + more) <= _p(p, x, t_x, T) * (1 + SLACK)
    assert 0 <= _e(p, 30.0, x, t_x, T + more) <= _e(p, 30.0, x, t_x, T) * (1 + SLACK)


@DETERMINISTIC
@given(params, repeat_buyers(), st.floats(0.0, 1.0))
def test_a_later_last_purchase_means_more_likely_alive(
        p: Params, customer: tuple[int, float, float], later: float) -> None:
    x, t_x, T = customer
    t_later = t_x + later * (T - t_x)

    assert _p(p, x, t_x, T) <= _p(p, x, t_later, T) * (1 + SLACK)


@DETERMINISTIC
@given(params, repeat_buyers(), st.floats(0.0, 365.0), st.floats(0.0, 365.0))
def test_a_longer_horizon_never_expects_fewer_purchases(
        p: Params, customer: tuple[int, float, float], t: float, more: float) -> None:
    expected = _e(p, t, *customer)

    assert math.isfinite(expected)
    assert 0 <= expected <= _e(p, t + more, *customer) * (1 + SLACK) + SLACK


days = st.dates(date(2024, 1, 1), date(2026, 6, 1))


@DETERMINISTIC
@given(st.lists(days, max_size=12), st.none() | days, st.floats(1.0, 365.0),
       st.integers(0, 400), st.integers(0, 400))
def test_overdue_only_grows_as_the_days_pass(purchases: list[date], contact: date | None,
                                            store: float, wait: int, more: int) -> None:
    if not purchases and contact is None:
        return
    today = max([*purchases, *([contact] if contact else [])]) + timedelta(days=wait)

    now, later = (overdue(purchases, contact, store, today + timedelta(days=d))
                  for d in (0, more))

    assert later.days_since == now.days_since + more
    assert now.days_overdue <= later.days_overdue
    assert now.ratio <= later.ratio
    assert now.days_overdue == max(0.0, now.days_since - now.rhythm_days)


@DETERMINISTIC
@given(st.lists(days, max_size=12))
def test_a_rhythm_lies_between_the_shortest_and_the_longest_gap(purchases: list[date]) -> None:
    gaps, rhythm = purchase_gaps(purchases), own_rhythm(purchases)

    if len(gaps) < 2:
        assert rhythm is None
    else:
        assert rhythm is not None
        assert min(gaps) <= rhythm <= max(gaps)
        assert min(gaps) >= 1
