"""One store's relationships on one day, computed from its histories: who is a buyer or a
prospect, each one's rhythm and how overdue they are, the store's BG/NBD fit, and which
rule marks them cold. Pure: no database, no clock (``health.actions.refresh`` reads the
histories and writes the result).

Per-customer work happens once, while the histories stream in (``summarise``: the own
rhythm through ``rhythm.own_rhythm``); the rest is numpy over the whole store, so a
store of a million customers costs seconds, not a million Python calls of
``rhythm.overdue`` — whose arithmetic this repeats (``tests/health/test_snapshot.py``
holds the two equal).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from itertools import groupby
from operator import itemgetter

import numpy as np
import numpy.typing as npt

from touchflow.health import bgnbd, rhythm, rules
from touchflow.health.models import FitNote, Reason, RhythmSource

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Flags = npt.NDArray[np.bool_]
Codes = npt.NDArray[np.int8]

# The snapshot carries rhythm sources and reasons as small codes, indexes into these
# (a million strings, and numpy's temporaries of them, would cost hundreds of MB).
SOURCES: tuple[str, ...] = (RhythmSource.NONE.value, RhythmSource.OWN.value,
                            RhythmSource.STORE.value, RhythmSource.VISITS.value)
NO_SOURCE, OWN, STORE, VISITS = range(4)
REASONS: tuple[str, ...] = (
    Reason.IN_RHYTHM.value, Reason.NO_RHYTHM.value, Reason.OVERDUE_OWN_RHYTHM.value,
    Reason.OVERDUE_STORE_RHYTHM.value, Reason.OVERDUE_VISIT_RHYTHM.value,
    Reason.P_ALIVE_LOW.value)
IN_RHYTHM, NO_RHYTHM, P_ALIVE_LOW = 0, 1, 5
# The reason when overdue, by source (no source: never overdue).
OVERDUE_BY = np.array([NO_RHYTHM, 2, 3, 4], dtype=np.int8)


@dataclass(frozen=True)
class Histories:
    """Per customer, ids ascending: the first and last of their days (ordinals), how
    many distinct days, and their own rhythm (NaN: fewer than ``rhythm.MIN_GAPS`` gaps)."""

    ids: Ints
    first: Ints
    last: Ints
    days: Ints
    own: Floats

    def at(self, ids: Ints) -> tuple[Flags, Ints]:
        """Which of ``ids`` have a history here, and where (0 where they have none)."""
        found = np.isin(ids, self.ids)
        where = np.searchsorted(self.ids, ids).clip(0, max(self.ids.size - 1, 0))
        return found, np.where(found, where, 0)


def _pick(values: npt.NDArray[np.generic], found: Flags, where: Ints,
          fill: float) -> Floats:
    """``values`` at ``where`` where ``found``, else ``fill`` (also when ``values`` is
    empty: nobody has a history of that kind)."""
    if not values.size:
        return np.full(found.size, fill, dtype=np.float64)
    picked: Floats = np.where(found, values[where], fill).astype(np.float64)
    return picked


def summarise(rows: Iterable[tuple[int, date]]) -> Histories:
    """``(customer id, day)`` rows, distinct and ordered by customer then day (as the
    query returns them), summed up customer by customer (in typed arrays: a million
    customers' summaries take 40 MB, not the 200 of Python lists)."""
    ids, first, last, counts = (array("q") for _ in range(4))
    own = array("d")
    for customer_id, group in groupby(rows, key=itemgetter(0)):
        days = [day for _id, day in group]
        found = rhythm.own_rhythm(days)
        ids.append(customer_id)
        first.append(days[0].toordinal())
        last.append(days[-1].toordinal())
        counts.append(len(days))
        own.append(math.nan if found is None else found)
    return Histories(_ints(ids), _ints(first), _ints(last), _ints(counts),
                     np.frombuffer(own, dtype=np.float64))


def _ints(values: array[int]) -> Ints:
    return np.frombuffer(values, dtype=np.int64)


def store_rhythm(histories: Histories) -> float | None:
    """``rhythm.store_rhythm``'s rule on summaries: the median of the own rhythms of the
    customers who have one; None when nobody has."""
    known = histories.own[~np.isnan(histories.own)]
    return float(np.median(known)) if known.size else None


@dataclass(frozen=True)
class Fit:
    params: bgnbd.Params | None
    note: str  # FitNote
    detail: str = ""
    repeat_buyers: int = 0


@dataclass(frozen=True)
class Model:
    """The BG/NBD summaries of the store's buyers (calendar days): repeat purchase days
    ``x``, recency ``t_x`` and age ``T`` on ``today``."""

    x: Floats
    t_x: Floats
    T: Floats

    @classmethod
    def of(cls, purchases: Histories, today: date) -> Model:
        x = (purchases.days - 1).astype(np.float64)
        t_x = (purchases.last - purchases.first).astype(np.float64)
        age = (today.toordinal() - purchases.first).astype(np.float64)
        return cls(x, t_x, age)


def fit(model: Model, seed: int) -> Fit:
    """The store's parameters when its history can carry them (``bgnbd.enough_history``),
    fitted on at most ``rules.FIT_SAMPLE`` buyers drawn with ``seed``."""
    repeat = int(np.count_nonzero(model.x > 0))
    if not model.x.size or not bgnbd.enough_history(model.x, model.T):
        return Fit(None, FitNote.SHORT_HISTORY, repeat_buyers=repeat)
    chosen = np.arange(model.x.size)
    if chosen.size > rules.FIT_SAMPLE:
        chosen = np.sort(np.random.default_rng(seed).choice(chosen.size, rules.FIT_SAMPLE,
                                                             replace=False))
    try:
        params = bgnbd.fit(model.x[chosen], model.t_x[chosen], model.T[chosen])
    except bgnbd.FitError as error:
        return Fit(None, FitNote.FIT_FAILED, str(error)[:300], repeat)
    return Fit(params, FitNote.FITTED, repeat_buyers=repeat)


@dataclass(frozen=True)
class Snapshot:
    """One row per customer of the store (ids ascending); dates as ordinals, NaN where
    there is none."""

    ids: Ints
    buyer: Flags
    last_purchase: Floats
    last_contact: Floats
    purchase_days: Ints
    rhythm_days: Floats
    source: Codes  # indexes into SOURCES
    days_since: Ints
    days_overdue: Floats
    ratio: Floats
    p_alive: Floats
    expected: Floats
    cold: Flags
    reason: Codes  # indexes into REASONS

    def sources(self) -> list[str]:
        return [SOURCES[code] for code in self.source.tolist()]

    def reasons(self) -> list[str]:
        return [REASONS[code] for code in self.reason.tolist()]


@dataclass(frozen=True)
class Inputs:
    """What the store recorded, up to the end of ``today``: its buyers' purchase days,
    its customers' visit days, each customer's last two-way contact other than a visit
    (an ordinal), and the customers never to mark (merged tombstones, erased)."""

    today: date
    purchases: Histories
    visits: Histories
    contacts: Mapping[int, int]
    excluded: Collection[int]


def assess(inputs: Inputs, fitted: Fit, store_rhythm_days: float | None,
           visit_rhythm_days: float | None) -> Snapshot:
    """Every buyer and prospect of the store as they stand on ``inputs.today``."""
    purchases, visits = inputs.purchases, inputs.visits
    ids = np.union1d(purchases.ids, visits.ids)
    ids = ids[~np.isin(ids, np.fromiter(inputs.excluded, dtype=np.int64))]
    buyer, at_p = purchases.at(ids)
    visited, at_v = visits.at(ids)
    last_purchase = _pick(purchases.last, buyer, at_p, np.nan)
    last_visit = _pick(visits.last, visited, at_v, np.nan)
    contacted = np.array([inputs.contacts.get(int(i), math.nan) for i in ids],
                         dtype=np.float64)
    last_contact = np.fmax(last_visit, contacted)
    since = (inputs.today.toordinal() - np.fmax(last_purchase, last_contact)).astype(np.int64)
    own = _pick(purchases.own, buyer, at_p, np.nan)
    rhythm_days, source = _rhythms(buyer, own, store_rhythm_days, visit_rhythm_days)
    with np.errstate(invalid="ignore"):
        ratio = since / rhythm_days
        overdue_days = np.maximum(0.0, since - rhythm_days)
    alive, expected = _model(fitted.params, Model.of(purchases, inputs.today), buyer, at_p)
    cold, reason = _verdict(ratio, source, alive)
    days = _pick(purchases.days, buyer, at_p, 0).astype(np.int64)
    return Snapshot(ids, buyer, last_purchase, last_contact, days, rhythm_days, source,
                    since, overdue_days, ratio, alive, expected, cold, reason)


def _rhythms(buyer: Flags, own: Floats, store_days: float | None,
             visit_days: float | None) -> tuple[Floats, Codes]:
    """A buyer's own rhythm, else the store's; a prospect's is the store's visit-return
    rhythm, else its purchase rhythm; NaN (no source) when the store has none yet."""
    store = math.nan if store_days is None else store_days
    prospect_days, prospect_source = ((visit_days, VISITS) if visit_days is not None
                                      else (store, STORE))
    has_own = buyer & ~np.isnan(own)
    days: Floats = np.where(has_own, own, np.where(buyer, store, prospect_days))
    source = np.where(has_own, OWN, np.where(buyer, STORE, prospect_source))
    source = np.where(np.isnan(days), NO_SOURCE, source).astype(np.int8)
    return days.astype(np.float64), source


def _model(params: bgnbd.Params | None, model: Model, buyer: Flags,
           at: Ints) -> tuple[Floats, Floats]:
    """p_alive (repeat buyers only: 1 for everybody else by the model's construction) and
    the purchases expected in ``rules.HORIZON_DAYS``, where the store has a fit."""
    nothing = np.full(buyer.size, np.nan)
    if params is None or not model.x.size:
        return nothing, nothing.copy()
    alive = bgnbd.p_alive(params, model.x, model.t_x, model.T)
    expected = bgnbd.expected_purchases(params, rules.HORIZON_DAYS, model.x, model.t_x,
                                        model.T)
    repeat = buyer & (model.x[at] > 0)
    return np.where(repeat, alive[at], np.nan), np.where(buyer, expected[at], np.nan)


def _verdict(ratio: Floats, source: Codes, alive: Floats) -> tuple[Flags, Codes]:
    """Cold when overdue by the rhythm's threshold (``rules``), or, failing that, when
    the model puts p_alive below ``rules.P_ALIVE_COLD``; the reason names the rule."""
    threshold = np.where(source == OWN, rules.OWN_RHYTHM_COLD, rules.STORE_RHYTHM_COLD)
    overdue = np.nan_to_num(ratio, nan=-1.0) >= threshold
    gone = np.nan_to_num(alive, nan=1.0) < rules.P_ALIVE_COLD
    reason = np.where(overdue, OVERDUE_BY[source], np.where(
        gone, P_ALIVE_LOW, np.where(np.isnan(ratio), NO_RHYTHM, IN_RHYTHM)))
    cold: Flags = overdue | gone
    return cold, reason.astype(np.int8)
