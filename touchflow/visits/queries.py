"""Reads of the visits table that other packages need as plain values."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Exists, F, OuterRef, Q, QuerySet, Window
from django.db.models.functions import RowNumber

from touchflow.timeline.figures import Row
from touchflow.timeline.models import EventKind
from touchflow.visits.models import Visit


def figure_rows(chunk: int = 20_000) -> Iterator[Row]:
    """Every visit as the figures count it (``timeline.events.visit_counted``): for a
    recount (``timeline.figures.rebuild``), visits without a customer included."""
    order = Window(RowNumber(), partition_by=[F("customer_id"), F("store_id")],
                   order_by=[F("occurred_at").asc(), F("id").asc()])
    rows = Visit.objects.order_by().annotate(nth=order).values_list(
        "occurred_at", "store_id", "staff_id", "visit_class", "contact_capture",
        "reason__code", "bought", "customer_id", "nth",
    ).iterator(chunk_size=chunk)
    for at, store_id, staff_id, visit_class, capture, reason, bought, customer, nth in rows:
        yield (EventKind.VISIT, at, store_id, staff_id,
               {"class": visit_class, "contacts": capture, "reason": reason, "bought": bought,
                "again": customer is not None and nth > 1})


def seen_before(visit: Visit) -> bool:
    """Whether the visit's customer had visited its store before it: a return visit
    (the funnel's third stage). Earlier in time, or at the same moment logged first."""
    if visit.customer_id is None:
        return False
    earlier = Q(occurred_at__lt=visit.occurred_at) | Q(occurred_at=visit.occurred_at,
                                                        pk__lt=visit.pk)
    return Visit.objects.filter(earlier, customer_id=visit.customer_id,
                                store_id=visit.store_id).exists()


def returning(visits: QuerySet[Visit]) -> QuerySet[Visit]:
    """Of ``visits``, the return visits (``seen_before``), for the list behind the figure."""
    before = Visit.objects.filter(
        Q(occurred_at__lt=OuterRef("occurred_at"))
        | Q(occurred_at=OuterRef("occurred_at"), pk__lt=OuterRef("pk")),
        customer_id=OuterRef("customer_id"), store_id=OuterRef("store_id"),
    )
    return visits.filter(customer__isnull=False).filter(Exists(before))
