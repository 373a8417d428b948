"""Reads of the visits table that other packages need as plain values."""

from __future__ import annotations

from collections.abc import Iterator

from touchflow.timeline.figures import Row
from touchflow.timeline.models import EventKind
from touchflow.visits.models import Visit


def figure_rows(chunk: int = 20_000) -> Iterator[Row]:
    """Every visit as the figures count it (``timeline.events.visit_counted``): for a
    recount (``timeline.figures.rebuild``), visits without a customer included."""
    rows = Visit.objects.order_by().values_list(
        "occurred_at", "store_id", "staff_id", "visit_class", "contact_capture", "reason__code"
    ).iterator(chunk_size=chunk)
    for at, store_id, staff_id, visit_class, capture, reason in rows:
        yield (EventKind.VISIT, at, store_id, staff_id,
               {"class": visit_class, "contacts": capture, "reason": reason})
