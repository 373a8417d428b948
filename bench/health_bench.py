"""``python -m bench health`` (or ``python -m bench.health_bench``): the BG/NBD model
(``touchflow.health.bgnbd``, issue 11) validated on the Online Retail year.

The file is read with the csv module, no database: lines without a CustomerID and
cancelled invoices (``C…``) are skipped, and one purchase is one invoice — except that a
customer's invoices stamped the same minute are one purchase (122 in the file: one basket
the till split; the model has no two purchases at one instant). Time is in days.

The model is fitted on the first nine calendar months (calibration) and predicts each
calibration customer's purchases in the rest of the file (holdout, 2011-09-01 to
2011-12-09: 99.5 days), against the naive rate (repeat purchases ÷ age × holdout) and
zero. Two smaller tables say how much history a fit needs: refits on random customers
with fewer repeat buyers, and calibrations of 1 to 6 months predicting the next three.
"""

from __future__ import annotations

import csv
import gzip
import math
import statistics
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy import stats

from bench.import_bench import DATA
from touchflow.health import bgnbd

Array = npt.NDArray[np.float64]
DAY = timedelta(days=1)
CALIBRATION_MONTHS = 9
HOLDOUT_MONTHS = 3
# How much history: repeat buyers kept in each refit, and refits per size.
SUBSAMPLE_REPEAT_BUYERS = (25, 50, 100, 200, 400)
SUBSAMPLE_SEEDS = 10
SPANS_MONTHS = (1, 2, 3, 6)
HESSIAN_STEP = 1e-3  # in log-parameters


@dataclass(frozen=True)
class Split:
    """Calibration summaries (days) and holdout purchases, one entry per customer who
    bought before the calibration's end."""

    x: Array
    t_x: Array
    T: Array
    actual: Array
    holdout_days: float


@dataclass(frozen=True)
class Score:
    method: str
    mae: float
    rmse: float
    predicted: float
    actual: float
    spearman: float
    auc: float  # who buys again in the holdout, ranked by the prediction


@dataclass(frozen=True)
class HistoryRow:
    label: str
    fits: str  # converged of tried
    mae: str  # median (min–max) over the refits
    predicted: str
    naive_mae: str  # the naive rate on the same holdout
    naive_total: str
    actual_total: str


@dataclass(frozen=True)
class HealthResult:
    customers: int
    repeat_buyers: int
    holdout_days: float
    params: dict[str, float]
    log_standard_errors: dict[str, float]  # of ln r, ln α, ln a, ln b
    log_likelihood: float
    fit_seconds: float
    scores: list[Score]
    p_alive_auc_repeat: float
    history: list[HistoryRow]


def read_purchases(path: Path = DATA) -> dict[str, list[datetime]]:
    """Each customer's purchase moments, sorted: one per invoice, same-minute ones merged."""
    invoices: dict[str, tuple[str, datetime]] = {}
    with gzip.open(path, "rt", encoding="utf-8", newline="") as lines:
        for row in csv.DictReader(lines):
            if not row["CustomerID"] or row["InvoiceNo"].startswith("C"):
                continue
            # InvoiceDate reads "2010-12-01 08:26:00"; CustomerID "17850.0".
            moment = datetime.strptime(row["InvoiceDate"], "%Y-%m-%d %H:%M:%S")
            invoices[row["InvoiceNo"]] = (row["CustomerID"], moment)
    moments: dict[str, set[datetime]] = defaultdict(set)
    for customer, moment in invoices.values():
        moments[customer].add(moment)
    return {customer: sorted(found) for customer, found in moments.items()}


def add_months(moment: datetime, months: int) -> datetime:
    """Midnight of the same day number ``months`` calendar months on (day ≤ 28 here)."""
    month = moment.month - 1 + months
    return datetime(moment.year + month // 12, month % 12 + 1, moment.day)


def split(purchases: dict[str, list[datetime]], calibration_end: datetime,
          holdout_end: datetime) -> Split:
    rows = [_summary(moments, calibration_end, holdout_end)
            for moments in purchases.values() if moments[0] < calibration_end]
    x, t_x, T, actual = (np.array(column, dtype=np.float64) for column in zip(*rows, strict=True))
    return Split(x, t_x, T, actual, (holdout_end - calibration_end) / DAY)


def _summary(moments: list[datetime], calibration_end: datetime,
             holdout_end: datetime) -> tuple[float, float, float, float]:
    before = [m for m in moments if m < calibration_end]
    after = sum(1 for m in moments if calibration_end <= m <= holdout_end)
    return (len(before) - 1, (before[-1] - before[0]) / DAY,
            (calibration_end - before[0]) / DAY, after)


def log_standard_errors(params: bgnbd.Params, data: Split) -> dict[str, float]:
    """Standard errors of the log-parameters from the curvature of the log-likelihood at
    the fit: how firmly the data pin each one (NaN where they do not at all)."""
    names = ("r", "alpha", "a", "b")
    centre = np.log([getattr(params, name) for name in names])
    steps = np.eye(4) * HESSIAN_STEP

    def value(log_params: Array) -> float:
        fitted = bgnbd.Params(*(float(v) for v in np.exp(log_params)))
        return bgnbd.log_likelihood(fitted, data.x, data.t_x, data.T)

    def curvature(i: int, j: int) -> float:  # a central second difference
        up, across = steps[i], steps[j]
        return (value(centre + up + across) - value(centre + up - across)
                - value(centre - up + across) + value(centre - up - across)
                ) / (4 * HESSIAN_STEP**2)

    hessian = np.array([[curvature(i, j) for j in range(4)] for i in range(4)])
    try:
        variances = np.diag(np.linalg.inv(-hessian))
    except np.linalg.LinAlgError:
        variances = np.full(4, math.nan)
    return {name: math.sqrt(v) if v > 0 else math.nan
            for name, v in zip(names, variances, strict=True)}


def naive(data: Split) -> Array:
    """Each customer's repeat-purchase rate so far, carried over the holdout."""
    prediction: Array = data.x / data.T * data.holdout_days
    return prediction


def bgnbd_prediction(params: bgnbd.Params, data: Split) -> Array:
    return bgnbd.expected_purchases(params, data.holdout_days, data.x, data.t_x, data.T)


def score(method: str, predicted: Array, data: Split) -> Score:
    error = predicted - data.actual
    return Score(method, float(np.mean(np.abs(error))), float(np.sqrt(np.mean(error**2))),
                 float(predicted.sum()), float(data.actual.sum()),
                 _spearman(predicted, data.actual), auc(predicted, data.actual > 0))


def _spearman(predicted: Array, actual: Array) -> float:
    if np.ptp(predicted) == 0:
        return math.nan  # a constant prediction ranks nobody
    return float(stats.spearmanr(predicted, actual).statistic)


def auc(scores: Array, positive: npt.NDArray[np.bool_]) -> float:
    """The chance that a random positive scores above a random negative (ties count ½)."""
    if np.ptp(scores) == 0:
        return math.nan
    ranks = stats.rankdata(scores)
    hits, misses = int(positive.sum()), int((~positive).sum())
    return float((ranks[positive].sum() - hits * (hits + 1) / 2) / (hits * misses))


def history_rows(data: Split, seed_base: int = 11) -> list[HistoryRow]:
    """Refits on random customers holding k repeat buyers (and the same share of one-time
    buyers), each predicting every calibration customer's holdout."""
    repeat, once = np.flatnonzero(data.x > 0), np.flatnonzero(data.x == 0)
    rows = []
    for k in SUBSAMPLE_REPEAT_BUYERS:
        fits = []
        for seed in range(SUBSAMPLE_SEEDS):
            rng = np.random.default_rng(seed_base + seed)
            kept = np.concatenate([rng.choice(repeat, k, replace=False),
                                   rng.choice(once, round(k * once.size / repeat.size),
                                              replace=False)])
            fits.append(_fit_or_none(data.x[kept], data.t_x[kept], data.T[kept]))
        rows.append(_history_row(f"{k} of the {repeat.size:,} repeat buyers", fits, data))
    return rows


def span_rows(purchases: dict[str, list[datetime]], start: datetime,
              end: datetime) -> list[HistoryRow]:
    """Calibrations of a few months, each predicting the next three (or up to the end)."""
    rows = []
    for months in SPANS_MONTHS:
        calibration_end = add_months(start, months)
        data = split(purchases, calibration_end,
                     min(add_months(start, months + HOLDOUT_MONTHS), end))
        fitted = _fit_or_none(data.x, data.t_x, data.T)
        label = (f"first {months} month{'s' if months > 1 else ''} "
                 f"({int((data.x > 0).sum()):,} repeat buyers), next {data.holdout_days:.0f} days")
        rows.append(_history_row(label, [fitted], data))
    return rows


def _fit_or_none(x: Array, t_x: Array, T: Array) -> bgnbd.Params | None:
    """The fit, or None where it refuses (``FitError``): the table counts those."""
    try:
        return bgnbd.fit(x, t_x, T)
    except bgnbd.FitError:
        return None


def _history_row(label: str, fits: list[bgnbd.Params | None], data: Split) -> HistoryRow:
    scores = [score("bgnbd", bgnbd_prediction(p, data), data) for p in fits if p is not None]
    baseline = score("naive", naive(data), data)
    reference = (f"{baseline.mae:.3f}", f"{baseline.predicted:,.0f}", f"{baseline.actual:,.0f}")
    if not scores:
        return HistoryRow(label, f"0 of {len(fits)}", "–", "–", *reference)
    maes, totals = [s.mae for s in scores], [s.predicted for s in scores]
    return HistoryRow(label, f"{len(scores)} of {len(fits)}", _spread(maes, 3),
                      _spread(totals, 0), *reference)


def _spread(values: list[float], digits: int) -> str:
    middle = f"{statistics.median(values):,.{digits}f}"
    if len(values) == 1:
        return middle
    return f"{middle} ({min(values):,.{digits}f}–{max(values):,.{digits}f})"


def bench_health(path: Path = DATA) -> HealthResult:
    purchases = read_purchases(path)
    start = min(moments[0] for moments in purchases.values())
    end = max(moments[-1] for moments in purchases.values())
    data = split(purchases, add_months(start, CALIBRATION_MONTHS), end)
    started = time.perf_counter()
    params = bgnbd.fit(data.x, data.t_x, data.T)
    fit_seconds = time.perf_counter() - started
    repeat = data.x > 0
    alive = bgnbd.p_alive(params, data.x, data.t_x, data.T)
    return HealthResult(
        customers=int(data.x.size), repeat_buyers=int(repeat.sum()),
        holdout_days=round(data.holdout_days, 1), params=asdict(params),
        log_standard_errors=log_standard_errors(params, data),
        log_likelihood=bgnbd.log_likelihood(params, data.x, data.t_x, data.T),
        fit_seconds=fit_seconds,
        scores=[score("BG/NBD", bgnbd_prediction(params, data), data),
                score("naive rate", naive(data), data),
                score("zero", np.zeros_like(data.actual), data)],
        p_alive_auc_repeat=auc(alive[repeat], data.actual[repeat] > 0),
        history=history_rows(data) + span_rows(purchases, start, end))


def report(result: HealthResult) -> str:
    p, se = result.params, result.log_standard_errors
    lines = [
        f"{result.customers:,} calibration customers ({result.repeat_buyers:,} with a repeat "
        f"purchase), holdout {result.holdout_days} days; fit {result.fit_seconds:.2f} s: "
        f"r = {p['r']:.4f}, α = {p['alpha']:.2f} days, a = {p['a']:.4f}, b = {p['b']:.4f} "
        f"(log-likelihood {result.log_likelihood:,.1f}; standard errors of ln r, ln α, ln a, "
        f"ln b: {', '.join(_number(se[name]) for name in ('r', 'alpha', 'a', 'b'))})",
        "",
        "| prediction | MAE per customer | RMSE per customer | predicted total | actual total "
        "| Spearman ρ | AUC: buys again |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [f"| {s.method} | {s.mae:.3f} | {s.rmse:.3f} | {s.predicted:,.0f} | "
              f"{s.actual:,.0f} | {_number(s.spearman)} | {_number(s.auc)} |"
              for s in result.scores]
    lines += ["", f"p_alive among repeat buyers, AUC for buying again: "
              f"{result.p_alive_auc_repeat:.3f}", "",
              "| how much history | fits converged | BG/NBD MAE | naive MAE "
              "| BG/NBD total | naive total | actual total |",
              "|---|---|---|---|---|---|---|"]
    lines += [f"| {h.label} | {h.fits} | {h.mae} | {h.naive_mae} | {h.predicted} | "
              f"{h.naive_total} | {h.actual_total} |" for h in result.history]
    return "\n".join(lines)


def _number(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.3f}"


def as_json(result: HealthResult) -> dict[str, object]:
    return asdict(result)


def main() -> None:
    result = bench_health()
    print("## Relationship health: BG/NBD on the Online Retail year\n\n" + report(result))


if __name__ == "__main__":
    main()
