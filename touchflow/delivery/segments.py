"""Set-shaped SQL for enrolling a whole segment of customers at once, and the check
that no enrollment is left without work.

Enrolling a million customers must not be a million round trips: per customer time
zone (the first touch's due time depends on it), one INSERT … SELECT writes the
enrollments, one their first touches, one their timeline rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Exists, OuterRef, QuerySet

from touchflow.delivery import transitions
from touchflow.delivery.models import Touch
from touchflow.flows.models import Enrollment, EnrollmentState
from touchflow.timeline.events import enrolled_insert_sql, segment_enrolled

# A touch in one of these states is the enrollment's next piece of work: waiting to be
# due, in a worker's hands (legacy "claimed" rows), or held while its chain is paused.
# Any other state is an outcome, and an outcome schedules the next step or ends the
# enrollment in the same transaction.


def _dt(value: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def _random_key() -> str:
    if connection.vendor == "postgresql":
        return "replace(gen_random_uuid()::text, '-', '')"
    return "lower(hex(randomblob(16)))"


def enroll_segment(
    *,
    flow_id: int,
    flow_slug: str,
    flow_name: str,
    customer_sql: str,
    customer_params: list[Any],
    time_zone: str,
    store_id: int,
    entered_at: datetime,
    step_id: int,
    commercial: bool,
    due_at: datetime,
    expires_at: datetime,
    now: datetime,
) -> int:
    """Enrol the customers of ``customer_sql`` (a query returning ids) whose time zone is
    ``time_zone`` and who are not in the chain now; returns how many entered."""
    with connection.cursor() as cursor:
        # Rows this call writes get ids above today's highest: that, not an anti-join
        # against the table being filled, tells the new enrollments apart. (An anti-join
        # planned on a table the statistics call empty — a new chain, or the second
        # time zone of one call — becomes a sequential scan per row: quadratic.)
        cursor.execute("SELECT coalesce(max(id), 0) FROM flows_enrollment")
        (before,) = cursor.fetchone()
        cursor.execute(
            "INSERT INTO flows_enrollment (flow_id, customer_id, store_id, state, entered_at, "
            "end_reason) SELECT %s, c.id, %s, 'active', %s, '' FROM customers_customer c "
            f"WHERE c.time_zone = %s AND c.merged_into_id IS NULL AND c.id IN ({customer_sql}) "
            # The partial unique index (one active enrollment per chain and customer)
            # leaves out whoever is in the chain now, one index probe per row.
            "ON CONFLICT (flow_id, customer_id) WHERE state = 'active' DO NOTHING",
            [flow_id, store_id, _dt(entered_at), time_zone, *customer_params],
        )
        entered = int(cursor.rowcount)
        if not entered:
            return 0
        fresh = "FROM flows_enrollment e WHERE e.id > %s AND e.flow_id = %s AND e.entered_at = %s"
        fresh_params = [before, flow_id, _dt(entered_at)]
        cursor.execute(
            "INSERT INTO delivery_touch (enrollment_id, step_id, round, customer_id, store_id, "
            "commercial, due_at, expires_at, state, channel, attempts, last_error, "
            "idempotency_key, lease_owner, reason, provider_message_id, created_at) "
            f"SELECT e.id, %s, 0, e.customer_id, e.store_id, %s, %s, %s, 'queued', '', 0, '', "
            # No ON CONFLICT: these enrollments were created by this call, so none has a
            # touch yet (and a speculative insert per row costs seconds a million).
            f"{_random_key()}, '', '', '', %s {fresh}",
            [step_id, commercial, _dt(due_at), _dt(expires_at), _dt(now), *fresh_params],
        )
        cursor.execute(
            f"{enrolled_insert_sql(connection.vendor)}{fresh}",
            [flow_slug, flow_name, *fresh_params],
        )
    segment_enrolled(store_id, entered_at, flow_slug, entered)
    return entered


def stranded_enrollments() -> QuerySet[Enrollment]:
    """Active enrollments with no open touch: nothing will ever send their next step or
    complete them, so the customer silently drops out of the chain (issue 13). There
    must be none; ``touchflow doctor`` and the test suite check.

    One anti-join over the active enrollments, each probing the touches' unique index
    (enrollment, step, round): fine for a check run by hand, not for the hot path.
    """
    open_touch = Touch.objects.filter(
        enrollment_id=OuterRef("pk"), state__in=transitions.OPEN_STATES
    )
    return Enrollment.objects.filter(state=EnrollmentState.ACTIVE).exclude(
        Exists(open_touch)
    ).order_by("pk")
