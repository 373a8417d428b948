"""Set-shaped SQL for enrolling a whole segment of customers at once.

Enrolling a million customers must not be a million round trips: per customer time
zone (the first touch's due time depends on it), one INSERT … SELECT writes the
enrollments, one their first touches, one their timeline rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import connection


def _dt(value: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def _random_key() -> str:
    if connection.vendor == "postgresql":
        return "md5(random()::text || clock_timestamp()::text || e.id::text)"
    return "lower(hex(randomblob(16)))"


def _timeline_data() -> str:
    if connection.vendor == "postgresql":
        return "json_build_object('flow', %s::text, 'flow_name', %s::text)"
    return "json_object('flow', %s, 'flow_name', %s)"


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
        cursor.execute(
            "INSERT INTO flows_enrollment (flow_id, customer_id, store_id, state, entered_at, "
            "end_reason) SELECT %s, c.id, %s, 'active', %s, '' FROM customers_customer c "
            f"WHERE c.time_zone = %s AND c.merged_into_id IS NULL AND c.id IN ({customer_sql}) "
            "AND NOT EXISTS (SELECT 1 FROM flows_enrollment x WHERE x.flow_id = %s "
            "AND x.customer_id = c.id AND x.state = 'active')",
            [flow_id, store_id, _dt(entered_at), time_zone, *customer_params, flow_id],
        )
        entered = cursor.rowcount
        if not entered:
            return 0
        # The rows just written are this chain's enrollments with this entry instant,
        # for customers in this zone, that have no touch yet.
        fresh = (
            "FROM flows_enrollment e JOIN customers_customer c ON c.id = e.customer_id "
            "WHERE e.flow_id = %s AND e.entered_at = %s AND e.state = 'active' "
            "AND c.time_zone = %s"
        )
        cursor.execute(
            "INSERT INTO delivery_touch (enrollment_id, step_id, round, customer_id, store_id, "
            "commercial, due_at, expires_at, state, channel, attempts, last_error, "
            "idempotency_key, lease_owner, reason, provider_message_id, created_at) "
            f"SELECT e.id, %s, 0, e.customer_id, e.store_id, %s, %s, %s, 'queued', '', 0, '', "
            f"{_random_key()}, '', '', '', %s {fresh} "
            "AND NOT EXISTS (SELECT 1 FROM delivery_touch t WHERE t.enrollment_id = e.id)",
            [
                step_id,
                commercial,
                _dt(due_at),
                _dt(expires_at),
                _dt(now),
                flow_id,
                _dt(entered_at),
                time_zone,
            ],
        )
        cursor.execute(
            "INSERT INTO timeline_timelineevent (customer_id, kind, at, store_id, data) "
            f"SELECT e.customer_id, 'enrolled', e.entered_at, e.store_id, {_timeline_data()} "
            f"{fresh} AND NOT EXISTS (SELECT 1 FROM timeline_timelineevent v "
            "WHERE v.customer_id = e.customer_id AND v.kind = 'enrolled' AND v.at = e.entered_at)",
            [flow_slug, flow_name, flow_id, _dt(entered_at), time_zone],
        )
    return entered
