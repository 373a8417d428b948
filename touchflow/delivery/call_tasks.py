"""The one writer that cancels call tasks.

A call task ends three ways: a person logs the call (``actions.complete_call_task``;
a customer who asked to be called back later keeps it open, a day on), or the call
must not be made any more because the customer left the chain it belongs to (bought,
opted out) or asked to be erased. Both of the last go through here, so a
cancelled task always looks the same (state and ``done_at``) whoever cancelled it.

Called by ``delivery.enrollments`` when a passage ends and by ``privacy.erase``; the
staff's side (completing a task) is ``actions``.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from touchflow.delivery.models import CallTask, TaskState


def cancel_open_call_tasks(
    at: datetime,
    *,
    enrollment_ids: Collection[int] | None = None,
    customer_ids: Collection[int] | None = None,
) -> int:
    """Cancel the open call tasks of these enrollments' touches, or of these customers;
    tasks done or cancelled already keep their state. Returns how many were cancelled.
    Call it inside the transaction that ends the enrollments (or erases the customers)."""
    if (enrollment_ids is None) == (customer_ids is None):
        raise ValueError("give enrollment_ids or customer_ids, not both or neither")
    tasks = CallTask.objects.filter(state=TaskState.OPEN)
    if enrollment_ids is not None:
        tasks = tasks.filter(touch__enrollment_id__in=list(enrollment_ids))
    else:
        tasks = tasks.filter(customer_id__in=list(customer_ids or ()))
    return tasks.update(state=TaskState.CANCELLED, done_at=at)
