"""How overdue a customer's next contact is, against their own rhythm of buying.

A customer's rhythm is the median gap between their purchases, counted in the store's
calendar days: several purchases on one day are one visit, and the median keeps one
long holiday from stretching the rhythm. Two gaps (three purchase days) are the least
that make a rhythm; a customer with fewer is measured against the store's rhythm, the
median of the rhythms of the store's customers who have one.

Dates are the store's calendar days (``datetime.date``; a ``datetime`` is refused, as
its day would depend on a time zone nobody named): the caller turns moments into the
store's local dates. Nothing here reads a clock: ``today`` is an argument.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from touchflow.core.errors import InvalidInput

# Two gaps are the fewest whose median is not just the one gap there is.
MIN_GAPS = 2


@dataclass(frozen=True)
class Overdue:
    """How a customer stands on ``today``.

    ``rhythm_days`` is the gap expected (``own_rhythm`` says whether it is the
    customer's own or the store's); ``days_since`` counts from the later of the last
    purchase and the last two-way contact; ``days_overdue`` is how far past the rhythm
    that is (0 while not yet due); ``ratio`` is ``days_since / rhythm_days`` (1: due
    today, 2: a whole gap late), comparable across customers with different rhythms.
    """

    rhythm_days: float
    own_rhythm: bool
    days_since: int
    days_overdue: float
    ratio: float


def purchase_gaps(purchases: Iterable[date]) -> list[int]:
    """Days between consecutive purchase days, in order; same-day purchases are one."""
    days = sorted(set(_dates("purchases", purchases)))
    return [(later - earlier).days for earlier, later in zip(days, days[1:], strict=False)]


def own_rhythm(purchases: Iterable[date]) -> float | None:
    """The median gap between the customer's purchase days; ``None`` with fewer than
    ``MIN_GAPS`` gaps."""
    gaps = purchase_gaps(purchases)
    return float(statistics.median(gaps)) if len(gaps) >= MIN_GAPS else None


def store_rhythm(histories: Iterable[Iterable[date]]) -> float | None:
    """The median of the own rhythms of the store's customers who have one (each customer
    counts once, however often they buy); ``None`` when nobody has one yet."""
    rhythms = [r for r in (own_rhythm(purchases) for purchases in histories) if r is not None]
    return float(statistics.median(rhythms)) if rhythms else None


def overdue(purchases: Iterable[date], last_contact: date | None, store_rhythm_days: float,
            today: date) -> Overdue:
    """How overdue the customer is on ``today``: days since the later of their last
    purchase and ``last_contact`` (the last two-way contact, if any) against their own
    rhythm, or ``store_rhythm_days`` when they have too little history for one."""
    days = _dates("purchases", purchases)
    _check_rhythm(store_rhythm_days)
    last = _last_touch(days, last_contact, today)
    rhythm = own_rhythm(days)
    expected = rhythm if rhythm is not None else store_rhythm_days
    since = (today - last).days
    return Overdue(rhythm_days=expected, own_rhythm=rhythm is not None, days_since=since,
                   days_overdue=max(0.0, since - expected), ratio=since / expected)


def _last_touch(purchases: list[date], last_contact: date | None, today: date) -> date:
    """The later of the last purchase and the last two-way contact, neither after today."""
    _date("today", today)
    touches = [("purchases", day) for day in purchases]
    if last_contact is not None:
        touches.append(("last_contact", _date("last_contact", last_contact)))
    if not touches:
        raise InvalidInput("purchases", "no purchase and no two-way contact to count from")
    name, last = max(touches, key=lambda touch: touch[1])
    if last > today:
        raise InvalidInput(name, f"{last.isoformat()} is after today ({today.isoformat()})")
    return last


def _check_rhythm(days: float) -> None:
    if not (math.isfinite(days) and days > 0):
        raise InvalidInput("store_rhythm_days", f"must be a positive number of days, not {days!r}")


def _dates(name: str, values: Iterable[date]) -> list[date]:
    return [_date(name, value) for value in values]


def _date(name: str, value: date) -> date:
    # A datetime is a date to Python, but its day depends on the time zone: refuse it.
    if isinstance(value, datetime) or not isinstance(value, date):
        raise InvalidInput(name, f"must be a calendar date (datetime.date), not {value!r}")
    return value
