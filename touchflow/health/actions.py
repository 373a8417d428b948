"""The writes of relationship health: a store's snapshot rebuilt (``refresh``: by
``touchflow health`` and the worker's daily chore), and a segment's cold customers
entered into a chain by a manager (``enrol_cold``).

A refresh reads the store's records first (a handful of set-shaped queries, no
transaction held while Python computes), then replaces the store's rows in one short
transaction under the lock of its ``StoreFit`` row, so two refreshes of one store (a
worker and the command) write one after the other, never into each other.

The computation (``snapshot``, on numpy and scipy) is imported by ``refresh`` when it
runs: the two take ~0.4 s to import, which every ``touchflow`` command and every web
process would otherwise pay at start (measured: ``touchflow import`` started in 1.65 s
instead of 0.9 s) for a module only a refresh needs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction

from touchflow.core import clock
from touchflow.core.bulk import insert_many
from touchflow.core.errors import InvalidInput
from touchflow.delivery.enrollments import enroll_many
from touchflow.flows.models import Flow, FlowStatus
from touchflow.health import queries
from touchflow.health.models import CustomerHealth, Segment, StoreFit
from touchflow.stores.models import Store

if TYPE_CHECKING:
    from touchflow.health import snapshot

# Rows written per INSERT (COPY on PostgreSQL): a million-customer store's rows are never
# all in memory as Python tuples at once.
CHUNK = 50_000
COLUMNS = ("customer_id", "store_id", "segment", "last_purchase_on", "last_contact_on",
           "purchase_days", "rhythm_days", "rhythm_source", "days_since", "days_overdue",
           "ratio", "p_alive", "expected_90d", "cold", "reason", "computed_at")


def refresh(store: Store, today: date, *,
            timer: Callable[[], float] = time.perf_counter) -> StoreFit:
    """Rebuild ``store``'s health as of its calendar day ``today`` from what it recorded
    up to that day's end; returns its ``StoreFit`` with the counts per segment."""
    from touchflow.health import snapshot  # numpy and scipy: see the module's docstring

    started, now = timer(), clock.now()
    end = queries.end_of(today, queries.zone_of(store))
    purchases = snapshot.summarise(queries.purchase_days(store, end))
    visits = snapshot.summarise(queries.visit_days(store, end))
    inputs = snapshot.Inputs(today, purchases, visits, queries.last_contacts(store, end),
                             queries.never_marked())
    store_days, visit_days = snapshot.store_rhythm(purchases), snapshot.store_rhythm(visits)
    fitted = snapshot.fit(snapshot.Model.of(purchases, today), seed=store.pk)
    result = snapshot.assess(inputs, fitted, store_days, visit_days)
    with transaction.atomic():
        fit = _locked_fit(store)
        CustomerHealth.objects.filter(store=store).delete()
        for start in range(0, result.ids.size, CHUNK):
            insert_many(CustomerHealth._meta.db_table, COLUMNS,
                        _rows(result, store.pk, now, slice(start, start + CHUNK)),
                        datetime_columns=("computed_at",))
        _record(fit, result, fitted, today, now, store_days, visit_days)
        fit.seconds = timer() - started
        fit.save()
    return fit


def ensure_fits() -> None:
    """A ``StoreFit`` row for every store (never refreshed yet: ``note`` "never")."""
    missing = Store.objects.exclude(pk__in=StoreFit.objects.values("store_id"))
    StoreFit.objects.bulk_create([StoreFit(store=s) for s in missing], ignore_conflicts=True)


def _locked_fit(store: Store) -> StoreFit:
    StoreFit.objects.bulk_create([StoreFit(store=store)], ignore_conflicts=True)
    return StoreFit.objects.select_for_update().get(store=store)


def _record(fit: StoreFit, result: snapshot.Snapshot, fitted: snapshot.Fit, today: date,
            now: datetime, store_days: float | None, visit_days: float | None) -> None:
    buyer, cold = result.buyer, result.cold
    fit.as_of, fit.fitted_at, fit.claimed_until = today, now, None
    fit.buyers, fit.prospects = int(buyer.sum()), int((~buyer).sum())
    fit.cold_buyers, fit.cold_prospects = int((buyer & cold).sum()), int((~buyer & cold).sum())
    fit.repeat_buyers = fitted.repeat_buyers
    fit.store_rhythm_days, fit.visit_rhythm_days = store_days, visit_days
    params = fitted.params
    fit.r, fit.alpha, fit.a, fit.b = ((params.r, params.alpha, params.a, params.b)
                                      if params else (None, None, None, None))
    fit.note, fit.detail = fitted.note, fitted.detail


def _rows(result: snapshot.Snapshot, store_id: int, now: datetime,
          part: slice) -> list[Sequence[Any]]:
    """Part of the snapshot as plain rows in ``COLUMNS`` order (dates as ISO text, NaN
    as NULL)."""
    from touchflow.health import snapshot  # loaded by ``refresh`` already

    days: dict[float, str | None] = {}

    def day(ordinal: float) -> str | None:
        if ordinal not in days:
            days[ordinal] = None if math.isnan(ordinal) else (
                date.fromordinal(int(ordinal)).isoformat())
        return days[ordinal]

    def number(value: float) -> float | None:
        return None if math.isnan(value) else value

    segments = [Segment.BUYERS.value if b else Segment.PROSPECTS.value
                for b in result.buyer[part].tolist()]
    sources = [snapshot.SOURCES[code] for code in result.source[part].tolist()]
    reasons = [snapshot.REASONS[code] for code in result.reason[part].tolist()]
    ids, bought, contact, purchase_days = (a[part].tolist() for a in (
        result.ids, result.last_purchase, result.last_contact, result.purchase_days))
    rhythms, since, overdue, ratios, alive, expected, cold = (a[part].tolist() for a in (
        result.rhythm_days, result.days_since, result.days_overdue, result.ratio,
        result.p_alive, result.expected, result.cold))
    columns = zip(ids, segments, bought, contact, purchase_days, rhythms, sources, since,
                  overdue, ratios, alive, expected, cold, reasons, strict=True)
    return [(customer, store_id, segment, day(bought), day(contact), purchase_days,
             number(rhythm_days), source, since, number(overdue), number(ratio),
             number(alive), number(expected), cold, reason, now)
            for (customer, segment, bought, contact, purchase_days, rhythm_days, source,
                 since, overdue, ratio, alive, expected, cold, reason) in columns]


@dataclass(frozen=True)
class Enrolled:
    cold: int  # the segment's cold customers
    entered: int  # of them, who entered the chain (the others were in it already)


def enrol_cold(store: Store, segment: str, flow: Flow, at: datetime) -> Enrolled:
    """Enter the store's cold customers of ``segment`` into ``flow`` in one pass
    (``delivery.enrollments.enroll_many``): those already in it stay as they are. Consent,
    quiet hours and the caps are the engine's, checked when each message is due."""
    if segment not in Segment.values:
        raise InvalidInput("segment", f"Must be one of: {', '.join(Segment.values)}.",
                           "invalid_choice")
    if flow.status != FlowStatus.ACTIVE:
        raise InvalidInput("flow", "Only an active chain can be entered.", "inactive")
    customers = queries.cold_customers(store.pk, segment)
    cold = customers.count()
    entered = enroll_many(flow, customers, store=store, at=at) if cold else 0
    return Enrolled(cold, entered)
