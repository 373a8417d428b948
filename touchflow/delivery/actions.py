"""What staff do with delivery's results: log a call task's outcome, resend a dead letter
(or a touch not known to have been sent).

Also the read side they need: which tasks and dead letters a staff member may see.
Every write here locks its row first, so two people clicking at once change it once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from touchflow.core import clock, text
from touchflow.core.errors import InvalidInput
from touchflow.core.text import check_text
from touchflow.customers.actions import record_consent
from touchflow.customers.models import ConsentPurpose, ContactKind, ContactPoint
from touchflow.delivery import transitions
from touchflow.delivery.models import CallResult, CallTask, TaskState, Touch, TouchState
from touchflow.flows.models import Enrollment, EnrollmentState
from touchflow.integrations.actor import Actor
from touchflow.stores.models import Staff
from touchflow.timeline import events

REASON_MAX = Touch._meta.get_field("reason").max_length or 64


def open_tasks_for(staff: Staff) -> QuerySet[CallTask]:
    """Open call tasks a staff member works on, soonest due first.

    A salesperson: the ones assigned to them. A manager: every task of their stores
    (unassigned ones included) and any assigned to them. An admin: all.
    """
    qs = CallTask.objects.filter(state=TaskState.OPEN)
    if staff.is_admin:
        pass
    elif staff.is_manager:
        qs = qs.filter(Q(store__in=staff.stores.all()) | Q(assignee=staff))
    else:
        qs = qs.filter(assignee=staff)
    return qs.order_by("due_at", "id")


# What the dead-letter page lists: failed for good, or not known whether it was sent
# (both wait for a person to decide whether to send again).
NEEDS_A_PERSON = (TouchState.DEAD, TouchState.UNCERTAIN)


def dead_letters_for(staff: Staff) -> QuerySet[Touch]:
    """Touches that failed for good, or whose send is uncertain, in the stores a manager
    runs (all for an admin), newest first; nothing for a salesperson."""
    qs = Touch.objects.filter(state__in=NEEDS_A_PERSON)
    if staff.is_admin:
        pass
    elif staff.is_manager:
        qs = qs.filter(store__in=staff.stores.all())
    else:
        qs = qs.none()
    return qs.order_by("-finished_at", "-id")


def complete_call_task(task: CallTask, staff: Staff, result: str, note: str = "") -> CallTask:
    """Log how the call went: the task is done (``done_at``, ``done_by``) and the
    customer's timeline says so. "Does not want calls" also withdraws contact consent
    on the phone that was called, recorded as a staff edit on the customer's request.

    Raises InvalidInput for an unknown result, a note with control characters or over
    ``core.text.NOTE``, or a task that is no longer open.
    """
    check_text("note", note, text.NOTE)
    if result not in CallResult.values:
        raise InvalidInput(
            "result", f"Must be one of: {', '.join(CallResult.values)}.", "invalid_choice"
        )
    now = clock.now()
    with transaction.atomic():
        locked = CallTask.objects.select_for_update().get(pk=task.pk)
        if locked.state != TaskState.OPEN:
            raise InvalidInput("task", "This task is no longer open.", "not_open")
        locked.state = TaskState.DONE
        locked.result = result
        locked.note = note.strip()
        locked.done_at = now
        locked.done_by = staff
        locked.save(update_fields=["state", "result", "note", "done_at", "done_by"])
        touch = Touch.objects.select_related("enrollment__flow", "step").get(pk=locked.touch_id)
        events.call_logged(touch, staff.pk, now, result, locked.note)
        if result == CallResult.DECLINED:
            _withdraw_phone_consent(locked, staff, now)
    return locked


def _withdraw_phone_consent(task: CallTask, staff: Staff, now: datetime) -> None:
    phones = ContactPoint.objects.filter(customer_id=task.customer_id, kind=ContactKind.PHONE)
    if task.phone:
        phones = phones.filter(value=task.phone)
    actor = Actor(source="admin", staff=staff)
    for point in phones:
        record_consent(
            point,
            ConsentPurpose.CONTACT,
            False,
            actor,
            at=now,
            note="Said on a call that they do not want calls.",
        )


def retry_dead_letter(touch: Touch, staff: Staff) -> Touch:
    """Send a dead letter, or a touch not known to have been sent, back to the queue,
    due now, its attempts and idempotency key kept (a provider that honours the key
    drops the copy of an uncertain send that did arrive). The timeline records what it
    was, so "sent again though it may have arrived" is the person's recorded choice.

    The person decided it should still go out, so a window that ran out meanwhile is
    reopened by the step's expiry (else the worker would expire it at once). A touch
    that ended its chain is put back into it; one whose customer left the chain (bought,
    opted out) is refused, as is a touch that is not a dead letter (any more).
    """
    now = clock.now()
    with transaction.atomic():
        locked = (
            Touch.objects.select_for_update()
            .select_related("enrollment__flow", "step")
            .get(pk=touch.pk)
        )
        if locked.state not in NEEDS_A_PERSON:
            raise InvalidInput("touch", "Only a failed message can be sent again.", "not_dead")
        was = locked.state
        _reopen(locked.enrollment)
        expires_at = max(locked.expires_at, now + timedelta(seconds=locked.step.expires_seconds))
        reason = f"requeued by {staff.username}"[:REASON_MAX]
        locked.save(update_fields=transitions.send_again(locked, now, expires_at, reason))
        events.touch_requeued(locked, staff.pk, now, was=was)
    return locked


def _reopen(enrollment: Enrollment) -> None:
    """A chain completed by its last (dead) step is reopened for the resend."""
    if enrollment.state == EnrollmentState.ACTIVE:
        return
    if enrollment.state != EnrollmentState.COMPLETED:
        raise InvalidInput("touch", "The customer has left this chain.", "enrollment_ended")
    enrollment.state = EnrollmentState.ACTIVE
    enrollment.ended_at = None
    enrollment.end_reason = ""
    try:
        with transaction.atomic():
            enrollment.save(update_fields=["state", "ended_at", "end_reason"])
    except IntegrityError as exc:
        # The customer has entered this chain again since: one active passage at a time.
        raise InvalidInput(
            "touch", "The customer is in this chain again.", "enrollment_ended"
        ) from exc
