"""The BG/NBD model of repeat buying (Fader, Hardie & Lee 2005, "Counting your customers
the easy way"), on numpy and scipy.

While a customer is active they buy at a rate λ (a Poisson process); λ varies across
customers as Gamma(shape r, rate α). After each repeat purchase they leave for good with
probability p; p varies across customers as Beta(a, b).

A customer is described by three numbers, as in the paper:

- ``x``: repeat purchases (purchases after the first), a whole number;
- ``t_x``: recency, the time from the first purchase to the last (0 when ``x`` is 0);
- ``T``: age, the time from the first purchase to the moment of observation.

Touchflow measures time in **days** (``t_x``, ``T``, the horizon ``t``, so ``alpha`` is
in days too); nothing here depends on the unit except the bounds and starting point of
the fit, which suit days. Arrays are of float64, one entry per customer.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
from scipy import optimize, special

from touchflow.core.errors import InvalidInput

Array = npt.NDArray[np.float64]

# The minimum history for a fit (decision 0024, bench/health_bench.py "how much history",
# the Online Retail year). Refits on random customers holding 25 repeat buyers failed to
# converge once in ten and predicted store totals 17 % below to 9 % above the full fit's;
# from 100 repeat buyers on, every refit converged and stayed within about 5 % of it.
MIN_REPEAT_CUSTOMERS = 100
# Dropout is read from customers who went quiet, and quiet is told from gone only after
# several gaps: fitted on the first 1, 2, 3 and 6 months, the model missed the next three
# months' total by -91 %, -28 %, -11 % and +8 %. 180 days is the first span within 10 %.
MIN_SPAN_DAYS = 180.0

# The fit runs on log-parameters bounded here: e^±12 spans any rate or odds a store shows
# in days, and a parameter that runs to a bound is one the data do not determine.
_LOG_BOUND = 12.0
# Within this distance of a point where eq. 10 is 0/0 (a = 1; a + b = 1 for a one-time
# buyer) the expectation, smooth there, is interpolated from both sides.
_NEAR_SINGULAR = 1e-4


class FitError(RuntimeError):
    """The likelihood's maximum was not found: the parameters would be noise."""


@dataclass(frozen=True)
class Params:
    """Fitted BG/NBD parameters: λ ~ Gamma(r, alpha) (alpha in days), p ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float

    def __post_init__(self) -> None:
        for name in ("r", "alpha", "a", "b"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise InvalidInput(name, f"must be a positive finite number, not {value!r}")


@dataclass(frozen=True)
class _Customers:
    x: Array
    t_x: Array
    T: Array


def log_likelihood(params: Params, x: npt.ArrayLike, t_x: npt.ArrayLike,
                   T: npt.ArrayLike) -> float:
    """The log-likelihood of the customers' histories under ``params``, summed."""
    customers = _customers(x, t_x, T)
    return float(np.sum(_log_likelihoods(params.r, params.alpha, params.a, params.b,
                                         customers)))


def fit(x: npt.ArrayLike, t_x: npt.ArrayLike, T: npt.ArrayLike) -> Params:
    """The maximum-likelihood parameters for these customers; ``FitError`` when the
    optimiser does not converge or a parameter runs off to a bound."""
    customers = _customers(x, t_x, T)
    if not np.any(customers.x > 0):
        raise InvalidInput("x", "no customer made a repeat purchase: nothing to fit")
    result = optimize.minimize(_objective(customers), _start(customers), method="L-BFGS-B",
                               bounds=[(-_LOG_BOUND, _LOG_BOUND)] * 4)
    return _checked(result)


def p_alive(params: Params, x: npt.ArrayLike, t_x: npt.ArrayLike,
            T: npt.ArrayLike) -> Array:
    """The probability that each customer is still active at age ``T`` (Fader, Hardie &
    Lee, "Computing P(alive) using the BG/NBD model"); 1 for a customer with no repeat
    purchase, as in the model nobody leaves before one."""
    customers = _customers(x, t_x, T)
    log_odds_gone = _log_odds_gone(params, customers)
    alive: Array = np.where(customers.x > 0, special.expit(-log_odds_gone), 1.0)
    return alive


def expected_purchases(params: Params, t: float, x: npt.ArrayLike, t_x: npt.ArrayLike,
                       T: npt.ArrayLike) -> Array:
    """The purchases to expect from each customer in the next ``t`` days (eq. 10)."""
    if not (math.isfinite(t) and t >= 0):
        raise InvalidInput("t", f"the horizon must be a finite number ≥ 0, not {t!r}")
    customers = _customers(x, t_x, T)
    alive = p_alive(params, customers.x, customers.t_x, customers.T)
    return alive * _purchases_if_alive_anywhere(params, t, customers)


def enough_history(x: npt.ArrayLike, T: npt.ArrayLike) -> bool:
    """Whether a store's customers (repeat purchases ``x``, ages ``T`` in days) are enough
    to fit the model: ``MIN_REPEAT_CUSTOMERS`` repeat buyers over ``MIN_SPAN_DAYS``."""
    frequency, age = (_as_array(name, value) for name, value in (("x", x), ("T", T)))
    if frequency.shape != age.shape:
        raise InvalidInput("T", f"shape {age.shape} differs from x's {frequency.shape}")
    repeat_buyers = int(np.count_nonzero(frequency > 0))
    span = float(age.max()) if age.size else 0.0
    return repeat_buyers >= MIN_REPEAT_CUSTOMERS and span >= MIN_SPAN_DAYS


def _log_likelihoods(r: float, alpha: float, a: float, b: float,
                     customers: _Customers) -> Array:
    """Each customer's log-likelihood, the paper's ln A1 + ln A2 + ln(A3 + δ(x>0) A4), with
    the sum A3 + A4 taken in log space: both underflow for a customer with many purchases."""
    x, t_x, T = customers.x, customers.t_x, customers.T
    log_a1 = special.gammaln(r + x) - special.gammaln(r) + r * math.log(alpha)
    log_a2 = special.betaln(a, b + x) - special.betaln(a, b)
    log_a3 = -(r + x) * np.log(alpha + T)
    # A4 exists only for repeat buyers; x is raised to 1 elsewhere so that b + x - 1 > 0.
    log_a4 = (math.log(a) - np.log(b + np.maximum(x, 1) - 1)
              - (r + x) * np.log(alpha + t_x))
    tail = np.where(x > 0, np.logaddexp(log_a3, log_a4), log_a3)
    total: Array = log_a1 + log_a2 + tail
    return total


def _objective(customers: _Customers) -> Callable[[Array], float]:
    """The mean negative log-likelihood over log-parameters: the mean keeps the
    optimiser's tolerances meaningful whatever the number of customers."""
    def negative_mean(log_params: Array) -> float:
        r, alpha, a, b = (float(v) for v in np.exp(log_params))
        value = -float(np.mean(_log_likelihoods(r, alpha, a, b, customers)))
        # A non-finite value is a step too far, not an answer: refuse it as very unlikely.
        return value if math.isfinite(value) else 1e300
    return negative_mean


def _start(customers: _Customers) -> Array:
    """r = 1 and α matching the customers' mean repeat rate (r / α is the mean λ);
    a = b = 1, dropout uniform. Far-off starts cost iterations, not the answer."""
    rate = float(customers.x.sum()) / max(float(customers.T.sum()), 1e-9)
    alpha = min(max(1 / max(rate, 1e-9), 1e-3), 1e5)
    start: Array = np.log(np.array([1.0, alpha, 1.0, 1.0]))
    return start


def _checked(result: optimize.OptimizeResult) -> Params:
    """The parameters of a converged fit, or ``FitError`` saying why there are none."""
    if not result.success or not math.isfinite(float(result.fun)):
        raise FitError(f"the BG/NBD fit did not converge: {result.message}")
    log_params = [float(v) for v in result.x]
    names = ("r", "alpha", "a", "b")
    for name, value in zip(names, log_params, strict=True):
        if abs(value) > _LOG_BOUND - 1e-3:
            raise FitError(f"{name} ran to e^{value:.0f}: the data do not determine it")
    return Params(*(math.exp(v) for v in log_params))


def _log_odds_gone(params: Params, customers: _Customers) -> Array:
    """ln of (a / (b + x - 1)) ((α + T) / (α + t_x))^(r + x): the odds that a repeat buyer
    left after their last purchase rather than stayed and bought nothing since."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, t_x, T = customers.x, customers.t_x, customers.T
    odds: Array = (math.log(a) - np.log(b + np.maximum(x, 1) - 1)
                   + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x)))
    return odds


def _purchases_if_alive(params: Params, t: float, customers: _Customers) -> Array:
    """Eq. 10's numerator: (a + b + x - 1) / (a - 1) · [1 - ((α + T) / (α + T + t))^(r + x)
    · 2F1(r + x, b + x; a + b + x - 1; z)], z = t / (α + T + t). Euler's transformation
    2F1(A, B; C; z) = (1 - z)^(C - A - B) 2F1(C - A, C - B; C; z) turns the bracket into
    1 - (1 - z)^(a - 1) 2F1(a + b - 1 - r, a - 1; a + b + x - 1; z): the same number, but
    no factor grows with x, so a customer with hundreds of purchases overflows nothing."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, T = customers.x, customers.T
    log_one_minus_z = np.log(alpha + T) - np.log(alpha + T + t)
    z = t / (alpha + T + t)
    c = a + b + x - 1
    bracket = 1 - np.exp((a - 1) * log_one_minus_z) * _hyp2f1(a + b - 1 - r, a - 1, c, z)
    expected: Array = c / (a - 1) * bracket
    return expected


def _hyp2f1(A: float, B: float, C: Array, z: Array) -> Array:
    """Gauss's 2F1(A, B; C; z) for 0 ≤ z < 1: scipy's, and where scipy answers with a
    non-finite number — it does for some large C near z = 1 (2F1(1, 1; 101; 0.9375) is
    about 1.01, scipy 1.17 says inf) — the power series itself, which converges there:
    each term is the last times (A + n)(B + n) z / ((C + n)(n + 1))."""
    value: Array = np.asarray(special.hyp2f1(A, B, C, z), dtype=np.float64)
    bad = ~np.isfinite(value)
    if np.any(bad):
        value = value.copy()
        value[bad] = _series(A, B, np.broadcast_to(C, value.shape)[bad],
                             np.broadcast_to(z, value.shape)[bad])
    return value


def _series(A: float, B: float, C: Array, z: Array, terms: int = 100_000) -> Array:
    total = np.ones_like(z)
    term = np.ones_like(z)
    for n in range(terms):
        term = term * (A + n) * (B + n) * z / ((C + n) * (n + 1))
        total = total + term
        if np.all(np.abs(term) <= 1e-15 * np.abs(total)):
            break
    return total


def _purchases_if_alive_anywhere(params: Params, t: float, customers: _Customers) -> Array:
    """Eq. 10's numerator, also where it is 0/0: at a = 1 its factor 1 / (a - 1) meets a
    bracket that is 0, and for a one-time buyer at a + b = 1 the hypergeometric's c is 0
    (the model itself is smooth through both)."""
    if abs(params.a - 1) < _NEAR_SINGULAR:
        return _interpolated(params, "a", 1.0, _NEAR_SINGULAR, t, customers)
    if abs(params.a + params.b - 1) < _NEAR_SINGULAR:
        # Half of b at most, so that b stays positive on both sides.
        step = min(_NEAR_SINGULAR, params.b / 2)
        return _interpolated(params, "b", 1 - params.a, step, t, customers)
    return _purchases_if_alive(params, t, customers)


def _interpolated(params: Params, name: str, singular: float, step: float, t: float,
                  customers: _Customers) -> Array:
    """The line through the values at ``singular ± step`` of parameter ``name``."""
    below, above = (_purchases_if_alive(replace(params, **{name: singular + side * step}),
                                        t, customers) for side in (-1, 1))
    weight = (getattr(params, name) - (singular - step)) / (2 * step)
    line: Array = below + weight * (above - below)
    return line


def _customers(x: npt.ArrayLike, t_x: npt.ArrayLike, T: npt.ArrayLike) -> _Customers:
    """The three arrays, checked: each refusal names its argument and the first customer
    (by index) that breaks the rule."""
    frequency, recency, age = (_as_array(name, value)
                               for name, value in (("x", x), ("t_x", t_x), ("T", T)))
    for name, array in (("t_x", recency), ("T", age)):
        if array.shape != frequency.shape:
            raise InvalidInput(name, f"shape {array.shape} differs from x's {frequency.shape}")
    _refuse(frequency != np.floor(frequency), "x", "must be a whole number of purchases",
            frequency)
    _refuse(recency > age, "t_x", "the last purchase comes after T", recency)
    _refuse((frequency > 0) & (recency == 0), "t_x",
            "must be above 0 when x > 0 (the last repeat purchase follows the first)", recency)
    _refuse((frequency == 0) & (recency > 0), "t_x",
            "a customer with no repeat purchase has recency 0", recency)
    return _Customers(frequency, recency, age)


def _as_array(name: str, value: npt.ArrayLike) -> Array:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise InvalidInput(name, f"must be numbers: {error}") from error
    if array.ndim > 1:
        raise InvalidInput(name, f"must be one number per customer, not shape {array.shape}")
    _refuse(~np.isfinite(array), name, "must be finite", array)
    _refuse(array < 0, name, "must not be negative", array)
    return array


def _refuse(broken: npt.NDArray[np.bool_], name: str, rule: str, values: Array) -> None:
    if np.any(broken):
        at = int(np.flatnonzero(broken)[0])
        raise InvalidInput(name, f"{rule} (customer {at}: {float(values.flat[at])!r})")
