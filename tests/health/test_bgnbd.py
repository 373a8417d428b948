"""The BG/NBD model against answers known without it: parameters recovered from customers
simulated with them, the likelihood against numeric integration of the model's own
story, predictions against Monte Carlo. No database; every draw from a fixed seed."""

from __future__ import annotations

import math
from dataclasses import replace
from functools import cache
from typing import Any

import numpy as np
import pytest
from scipy import integrate, stats

from tests.health.simulation import Simulated, simulate
from touchflow.core.errors import InvalidInput
from touchflow.health.bgnbd import (
    MIN_REPEAT_CUSTOMERS,
    MIN_SPAN_DAYS,
    FitError,
    Params,
    enough_history,
    expected_purchases,
    fit,
    log_likelihood,
    p_alive,
)

# Days: a customer buys about three times a year while active (r / α), and most leave
# within a few repeat purchases (a / (a + b) ≈ 0.24).
TRUTH = Params(r=0.25, alpha=30.0, a=0.8, b=2.5)
CUSTOMERS = 10_000

# The spread of the estimates of (ln r, ln α, ln a, ln b), 10,000 customers aged 180 to
# 540 days: standard deviations over seeds 0–59 of this very simulation (worst deviations
# 0.053, 0.093, 0.153, 0.229). A fit is "near" the truth within four of them, which a
# correct fit misses about once in 16,000 seeds per parameter (were the estimates normal);
# doubling any one parameter moves its logarithm by 0.69, beyond four spreads (0.08, 0.14,
# 0.31, 0.42).
LOG_SPREAD = {"r": 0.020, "alpha": 0.036, "a": 0.077, "b": 0.106}


def near(fitted: Params, truth: Params) -> bool:
    return all(abs(math.log(getattr(fitted, name)) - math.log(getattr(truth, name)))
               <= 4 * spread for name, spread in LOG_SPREAD.items())


@cache
def customers(params: Params, seed: int, holdout_days: float = 0.0) -> Simulated:
    rng = np.random.default_rng(seed)
    return simulate(params, rng.uniform(180, 540, CUSTOMERS), holdout_days, rng)


def fitted(params: Params, seed: int) -> Params:
    data = customers(params, seed)
    return fit(data.x, data.t_x, data.T)


def test_the_fit_recovers_the_parameters_it_was_simulated_with() -> None:
    assert near(fitted(TRUTH, seed=2026), TRUTH)


@pytest.mark.parametrize("name", ["r", "alpha", "a", "b"])
def test_customers_simulated_with_one_parameter_doubled_are_not_near_the_truth(
        name: str) -> None:
    other = replace(TRUTH, **{name: 2 * getattr(TRUTH, name)})

    result = fitted(other, seed=2026)

    assert near(result, other)
    assert not near(result, TRUTH)


# The tiny data set: a one-time buyer, repeat buyers recent and long quiet, a heavy buyer.
X = [0, 1, 1, 3, 12]
T_X = [0.0, 3.0, 2.0, 7.5, 40.0]
AGE = [10.0, 10.0, 60.0, 12.0, 41.0]


def likelihood_by_integration(params: Params, x: int, t_x: float, T: float) -> float:
    """The model's story integrated numerically: given λ and p, a customer alive
    throughout bought x times in T and nothing after t_x — (1 - p)^x λ^x e^(-λT) — or left
    after the x-th purchase — p (1 - p)^(x - 1) λ^x e^(-λ t_x); λ ~ Gamma(r, α),
    p ~ Beta(a, b). Each term splits into an integral over λ times one over p."""
    rate = stats.gamma(params.r, scale=1 / params.alpha)
    leave = stats.beta(params.a, params.b)

    def over_rate(until: float) -> float:
        def integrand(lam: float) -> float:
            return float(lam**x * math.exp(-lam * until) * rate.pdf(lam))
        # Split at 1: quad copes with the density's peak near 0 and the tail one at a time.
        return sum(integrate.quad(integrand, low, high, epsabs=0, epsrel=1e-11, limit=200)[0]
                   for low, high in ((0, 1), (1, math.inf)))

    def over_leave(power: float, left: bool) -> float:
        return integrate.quad(lambda p: (p if left else 1.0) * (1 - p) ** power * leave.pdf(p),
                              0, 1, epsabs=0, epsrel=1e-11, limit=200)[0]

    stayed = over_leave(x, left=False) * over_rate(T)
    if x == 0:
        return stayed
    return stayed + over_leave(x - 1, left=True) * over_rate(t_x)


def likelihood_by_formula(params: Params, x: int, t_x: float, T: float) -> float:
    """The paper's likelihood A1·A2·(A3 + δ(x>0)·A4) written out plainly with math.lgamma,
    one customer at a time."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    a1 = math.exp(math.lgamma(r + x) - math.lgamma(r) + r * math.log(alpha))
    a2 = math.exp(math.lgamma(a + b) + math.lgamma(b + x) - math.lgamma(b)
                  - math.lgamma(a + b + x))
    a3 = (1 / (alpha + T)) ** (r + x)
    a4 = a / (b + x - 1) * (1 / (alpha + t_x)) ** (r + x) if x > 0 else 0.0
    return a1 * a2 * (a3 + a4)


@pytest.mark.parametrize("params", [TRUTH, Params(r=1.7, alpha=3.0, a=2.2, b=0.6)])
def test_the_log_likelihood_is_the_models_story_integrated(params: Params) -> None:
    by_integration = sum(math.log(likelihood_by_integration(params, *c))
                         for c in zip(X, T_X, AGE, strict=True))
    by_formula = sum(math.log(likelihood_by_formula(params, *c))
                     for c in zip(X, T_X, AGE, strict=True))

    assert log_likelihood(params, X, T_X, AGE) == pytest.approx(by_integration, rel=1e-8)
    assert log_likelihood(params, X, T_X, AGE) == pytest.approx(by_formula, rel=1e-12)


def test_the_log_likelihood_stays_finite_for_a_customer_with_thousands_of_purchases() -> None:
    r, alpha, a, b = TRUTH.r, TRUTH.alpha, TRUTH.a, TRUTH.b
    x, t_x, T = 3000, 700.0, 730.0
    # The paper's likelihood in logs by hand: A3 and A4 themselves are below 1e-8000.
    log_a3, log_a4 = -(r + x) * math.log(alpha + T), (
        math.log(a / (b + x - 1)) - (r + x) * math.log(alpha + t_x))
    expected = (math.lgamma(r + x) - math.lgamma(r) + r * math.log(alpha)
                + math.lgamma(a + b) + math.lgamma(b + x) - math.lgamma(b)
                - math.lgamma(a + b + x)
                + log_a4 + math.log1p(math.exp(log_a3 - log_a4)))

    assert log_likelihood(TRUTH, [x], [t_x], [T]) == pytest.approx(expected, rel=1e-12)


def test_a_customer_with_no_repeat_purchase_is_alive() -> None:
    assert p_alive(TRUTH, [0, 0], [0.0, 0.0], [1.0, 900.0]).tolist() == [1.0, 1.0]


def test_p_alive_falls_as_the_silence_since_the_last_purchase_grows() -> None:
    ages = np.array([20.0, 40.0, 80.0, 160.0, 320.0])

    alive = p_alive(TRUTH, np.full(5, 4.0), np.full(5, 20.0), ages)

    assert alive[0] == pytest.approx(1 / (1 + 0.8 / (2.5 + 3)))  # T = t_x: only the coin
    assert np.all(np.diff(alive) < 0)
    assert alive[-1] < 0.01


# Also where eq. 10 is 0/0 — a = 1, and a + b = 1 for one-time buyers — and a > 1.
@pytest.mark.parametrize("params", [TRUTH, Params(r=0.25, alpha=30.0, a=1.0, b=2.5),
                                    Params(r=0.25, alpha=30.0, a=0.4, b=0.6),
                                    Params(r=0.6, alpha=50.0, a=2.5, b=4.0)])
def test_expected_purchases_match_a_monte_carlo_of_the_next_two_months(params: Params) -> None:
    rng = np.random.default_rng(7)
    data = simulate(params, rng.uniform(60, 360, 200_000), 60.0, rng)
    predicted = expected_purchases(params, 60.0, data.x, data.t_x, data.T)
    # The alternative the test must tell apart: everyone still active.
    if_alive = predicted / p_alive(params, data.x, data.t_x, data.T)

    gaps = [_gap_in_standard_errors(prediction, data) for prediction in (predicted, if_alive)]

    assert max(gaps[0]) < 4
    assert max(gaps[1]) > 10


def _gap_in_standard_errors(predicted: np.ndarray, data: Simulated) -> list[float]:
    """Per group of customers alike in (x, t_x / T) — a function of what the prediction
    conditions on, so its mean is the group's expected purchases — how many standard
    errors the mean prediction lies from the mean of what they bought."""
    gaps = []
    for low, high in ((0, 1), (1, 2), (2, 3), (3, 5), (5, 10), (10, 10**6)):
        for recent in (False, True):
            group = (data.x >= low) & (data.x < high) & ((data.t_x > data.T / 2) == recent)
            bought = data.holdout[group]
            if group.sum() < 500 or bought.std() == 0:
                continue
            error = bought.std() / math.sqrt(group.sum())
            gaps.append(abs(predicted[group].mean() - bought.mean()) / error)
    return gaps


@pytest.mark.parametrize(("name", "singular", "x", "t_x"), [
    ("a", 1.0, 3, 50.0),  # eq. 10's 1 / (a - 1)
    ("b", 0.6, 0, 0.0),  # a one-time buyer's hypergeometric c = a + b - 1 (a = 0.4)
])
def test_expected_purchases_are_continuous_where_eq_10_is_zero_over_zero(
        name: str, singular: float, x: int, t_x: float) -> None:
    base = Params(r=0.25, alpha=30.0, a=0.4, b=2.5)
    values = [expected_purchases(replace(base, **{name: singular + step}), 90.0, [x], [t_x],
                                 [200.0])[0]
              for step in (-2e-4, -5e-5, 0.0, 5e-5, 2e-4)]

    assert all(math.isfinite(v) for v in values)
    steps = np.diff(values)
    assert np.all(steps < 0) or np.all(steps > 0)
    assert values[2] == pytest.approx((values[0] + values[4]) / 2, rel=1e-6)


def test_expected_purchases_of_a_heavy_buyer_are_finite_and_near_their_rate() -> None:
    [expected] = expected_purchases(TRUTH, 30.0, [600], [364.0], [365.0])

    # Nearly sure to stay: about the posterior mean rate (r + x) / (α + T) a day.
    assert expected == pytest.approx(30 * (0.25 + 600) / (30 + 365), rel=0.05)


def test_no_horizon_no_purchases() -> None:
    assert expected_purchases(TRUTH, 0.0, X, T_X, AGE).tolist() == [0.0] * 5


@pytest.mark.parametrize(("x", "t_x", "T", "argument", "message"), [
    ([-1], [0.0], [5.0], "x", "must not be negative"),
    ([1.5], [2.0], [5.0], "x", "must be a whole number"),
    ([1], [-2.0], [5.0], "t_x", "must not be negative"),
    ([1], [6.0], [5.0], "t_x", "comes after T"),
    ([2], [0.0], [5.0], "t_x", "must be above 0"),
    ([0], [2.0], [5.0], "t_x", "no repeat purchase has recency 0"),
    ([1], [2.0], [math.nan], "T", "must be finite"),
    ([1, 2], [2.0], [5.0], "t_x", "shape"),
    ([[1]], [[2.0]], [[5.0]], "x", "one number per customer"),
    (["one"], [2.0], [5.0], "x", "must be numbers"),
])
def test_bad_customers_are_refused_by_argument(x: Any, t_x: Any, T: Any, argument: str,
                                               message: str) -> None:
    for call in (lambda: p_alive(TRUTH, x, t_x, T), lambda: fit(x, t_x, T),
                 lambda: expected_purchases(TRUTH, 30.0, x, t_x, T)):
        with pytest.raises(InvalidInput, match=message) as raised:
            call()
        assert raised.value.field == argument


def test_the_refusal_says_which_customer() -> None:
    with pytest.raises(InvalidInput, match=r"t_x: the last purchase comes after T "
                                           r"\(customer 2: 9.0\)"):
        p_alive(TRUTH, [0, 1, 1], [0.0, 2.0, 9.0], [5.0, 5.0, 5.0])


@pytest.mark.parametrize("field", ["r", "alpha", "a", "b"])
@pytest.mark.parametrize("value", [0.0, -1.0, math.inf, math.nan])
def test_parameters_are_positive_and_finite(field: str, value: float) -> None:
    with pytest.raises(InvalidInput) as raised:
        replace(TRUTH, **{field: value})

    assert raised.value.field == field


@pytest.mark.parametrize("t", [-1.0, math.nan, math.inf])
def test_the_horizon_is_a_finite_span(t: float) -> None:
    with pytest.raises(InvalidInput) as raised:
        expected_purchases(TRUTH, t, X, T_X, AGE)

    assert raised.value.field == "t"


def test_a_store_without_repeat_buyers_cannot_be_fitted() -> None:
    with pytest.raises(InvalidInput, match="no customer made a repeat purchase"):
        fit([0, 0, 0], [0.0, 0.0, 0.0], [10.0, 20.0, 30.0])


def test_a_fit_the_data_cannot_settle_is_refused_not_returned() -> None:
    # Fifty customers who each bought every 20 days and are all still buying: nobody
    # ever left, so the share who leave runs to the edge of the search.
    with pytest.raises(FitError, match="the data do not determine it"):
        fit(np.full(50, 5.0), np.full(50, 100.0), np.full(50, 100.0))


def test_enough_history_needs_both_the_repeat_buyers_and_the_span() -> None:
    repeat = np.r_[np.ones(MIN_REPEAT_CUSTOMERS), np.zeros(500)]
    age = np.full(repeat.size, MIN_SPAN_DAYS)

    assert enough_history(repeat, age)
    assert not enough_history(repeat[1:], age[1:])  # one repeat buyer short
    assert not enough_history(repeat, age - 1)  # a day short
    assert not enough_history([], [])


def test_a_customer_with_many_purchases_in_a_short_life_expects_a_finite_number() -> None:
    """scipy's hyp2f1 answers inf for 2F1(1, 1; 101; 0.9375) (about 1.0095): the series
    takes over there, so such a customer expects a finite, growing number of purchases."""
    from touchflow.health.bgnbd import _hyp2f1

    z, total, term = 0.9375, 1.0, 1.0
    for n in range(2000):  # the series, term by term, in plain floats
        term *= (1 + n) * (1 + n) * z / ((101 + n) * (n + 1))
        total += term
    assert float(_hyp2f1(1.0, 1.0, np.array([101.0]), np.array([z]))[0]) == pytest.approx(total)
    p = Params(1.0, 1.0, 2.0, 1.0)
    soon, later = (float(expected_purchases(p, t, [99], [1.0], [1.0])[0]) for t in (14.0, 30.0))
    assert 0 < soon < later < 1e6
