"""Reads of the visits table that other packages need as plain values."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Exists, F, OuterRef, Q, QuerySet, Window
from django.db.models.functions import RowNumber

from touchflow.stores.models import Store
from touchflow.timeline.figures import Row
from touchflow.timeline.models import EventKind
from touchflow.visits.models import Visit


def figure_rows(chunk: int = 20_000) -> Iterator[Row]:
    """Every visit as the figures count it (``timeline.events.visit_written``): for a
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


def on_local_days(visits: QuerySet[Visit], stores: list[Store], since: date,
                  until: date) -> QuerySet[Visit]:
    """Of ``visits``, only those of ``stores``, and of each store only those on the days
    from ``since`` to ``until`` on its own calendar, as the figures count them.

    The stores whose days start at the same moment share one condition. When their days
    differ (stores in several time zones), one range over them all (the earliest start to
    the latest end) is added: the same rows, but a condition on ``occurred_at`` alone,
    without which PostgreSQL cannot bound a scan of ``visit_recent`` and sorts every visit
    of the period to list the newest 50 (bench/RESULTS.md: 3 s for 28 days at 10M visits,
    3.7 ms with it).
    """
    by_days: dict[tuple[datetime, datetime], list[Store]] = {}
    for store in stores:
        by_days.setdefault(_local_days(store, since, until), []).append(store)
    if not by_days:
        return visits.none()
    within = Q()
    for (start, end), group in by_days.items():
        within |= Q(store__in=group, occurred_at__gte=start, occurred_at__lt=end)
    if len(by_days) == 1:
        return visits.filter(within)
    return visits.filter(within, occurred_at__gte=min(start for start, _ in by_days),
                         occurred_at__lt=max(end for _, end in by_days))


def _local_days(store: Store, since: date, until: date) -> tuple[datetime, datetime]:
    """From the start of ``since`` to the start of the day after ``until``, in the
    store's time zone (as UTC, so that stores in zones of the same offset share it)."""
    zone = zoneinfo.ZoneInfo(store.time_zone)
    return (datetime.combine(since, time(), zone).astimezone(UTC),
            datetime.combine(until + timedelta(days=1), time(), zone).astimezone(UTC))
