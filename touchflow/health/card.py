"""What the customer card says of a customer's relationship with each of the viewer's
stores: the facts its sentence needs, counted on each store's calendar as of now (the
snapshot says who is cold; how long ago is read afresh, so the card never says
"yesterday" of today's purchase)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from touchflow.customers.models import Customer
from touchflow.customers.visibility import Stores
from touchflow.health import queries
from touchflow.health.models import CustomerHealth, Reason


@dataclass(frozen=True)
class Standing:
    store: str  # the store's name
    cold: bool
    reason: str  # a Reason value
    why: str  # the reason in words
    purchase_ago: int | None  # days since the last purchase at the store
    contact_ago: int | None  # days since the last two-way contact
    rhythm: int | None  # the rhythm, rounded to whole days
    source: str  # a RhythmSource value
    percent: int | None  # p_alive in per cent, where the store's model gives one
    checked: datetime


def standings(customer: Customer, stores: Stores, now: datetime) -> list[Standing]:
    """One per store of ``stores`` (every store for None) with a snapshot of ``customer``."""
    return [_standing(row, now) for row in queries.of_customer(customer, stores)]


def _standing(row: CustomerHealth, now: datetime) -> Standing:
    today = queries.today_in(row.store, now)
    return Standing(
        store=row.store.name,
        cold=row.cold,
        reason=row.reason,
        why=str(Reason(row.reason).label) if row.reason in Reason.values else row.reason,
        purchase_ago=_ago(row.last_purchase_on, today),
        contact_ago=_ago(row.last_contact_on, today),
        rhythm=None if row.rhythm_days is None else max(1, round(row.rhythm_days)),
        source=row.rhythm_source,
        percent=None if row.p_alive is None else round(100 * row.p_alive),
        checked=row.computed_at,
    )


def _ago(day: date | None, today: date) -> int | None:
    return None if day is None else max(0, (today - day).days)
