"""Customers drawn from the BG/NBD story itself (not from the formulas under test): a
buying rate from Gamma(r, α), a leaving probability from Beta(a, b), purchases as a
Poisson process, a coin with p tossed after each repeat purchase."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from touchflow.health.bgnbd import Params

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Simulated:
    """Per customer: the calibration summary (x, t_x, T) and purchases in (T, T + t]."""

    x: Array
    t_x: Array
    T: Array
    holdout: Array


def simulate(params: Params, T: Array, holdout_days: float,
             rng: np.random.Generator) -> Simulated:
    """One customer per entry of ``T`` (days since their first purchase)."""
    n = T.size
    rate = rng.gamma(params.r, 1 / params.alpha, n)
    leave = rng.beta(params.a, params.b, n)
    x, t_x, holdout = np.zeros(n), np.zeros(n), np.zeros(n)
    now, active = np.zeros(n), np.ones(n, dtype=bool)
    while active.any():
        now = now + rng.exponential(1 / np.maximum(rate, 1e-300))
        active &= now <= T + holdout_days
        in_calibration = active & (now <= T)
        x += in_calibration
        t_x = np.where(in_calibration, now, t_x)
        holdout += active & (now > T)
        active &= rng.random(n) >= leave  # the coin after each repeat purchase
    return Simulated(x, t_x, T, holdout)
