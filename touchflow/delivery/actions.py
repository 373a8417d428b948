"""What staff do with delivery's results: log a call task's outcome or move it to later,
resend a dead letter (or a touch not known to have been sent).

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
from touchflow.purchases.queries import has_bought
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


# How long a call may be logged as taking (minutes), and how far ahead "call back later"
# may move one: a longer call or a later date is a typo, not a plan.
MINUTES_MAX = 600
LATER_MAX = timedelta(days=60)
# When a call whose customer asked to be called back later falls due again.
CALL_BACK_AFTER = timedelta(days=1)


def check_minutes(minutes: int | None) -> int | None:
    """``minutes`` if it is None or a whole number in 1..``MINUTES_MAX``; otherwise
    InvalidInput naming ``minutes``."""
    if minutes is None:
        return None
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        raise InvalidInput("minutes", "Must be a whole number of minutes.", "invalid")
    if not 0 < minutes <= MINUTES_MAX:
        raise InvalidInput("minutes", f"Must be between 1 and {MINUTES_MAX}.", "out_of_range")
    return minutes


def complete_call_task(
    task: CallTask, staff: Staff, result: str, note: str = "", minutes: int | None = None
) -> CallTask:
    """Log how the call went: the task is done (``done_at``, ``done_by``, and the
    ``minutes`` it took when given) and the customer's timeline says so. "Does not want
    calls" also withdraws contact consent on the phone that was called, recorded as a
    staff edit on the customer's request. "Asked to call back later" is logged the same
    way, but the task stays open and falls due a day later (``CALL_BACK_AFTER``), as
    "call back later" would move it: the customer asked for another call, so nobody
    may lose it (a time of their choosing: ``reschedule_call_task``).

    Raises InvalidInput for an unknown result, a note with control characters or over
    ``core.text.NOTE``, minutes that are not a whole number in 1..``MINUTES_MAX``, or a
    task that is no longer open.
    """
    check_text("note", note, text.NOTE)
    if result not in CallResult.values:
        raise InvalidInput(
            "result", f"Must be one of: {', '.join(CallResult.values)}.", "invalid_choice"
        )
    check_minutes(minutes)
    now = clock.now()
    with transaction.atomic():
        locked = _locked_open(task)
        touch = _touch_of(locked)
        events.call_logged(touch, staff.pk, now, result, note.strip(), minutes=minutes,
                           bought=has_bought(locked.customer_id, locked.store_id))
        if result == CallResult.CALL_BACK:
            _move(locked, touch, staff, now, now + CALL_BACK_AFTER, note)
            return locked
        locked.state = TaskState.DONE
        locked.result = result
        locked.note = note.strip()
        locked.minutes = minutes
        locked.done_at = now
        locked.done_by = staff
        locked.save(update_fields=["state", "result", "note", "minutes", "done_at", "done_by"])
        if result == CallResult.DECLINED:
            _withdraw_phone_consent(locked, staff, now)
    return locked


def reschedule_call_task(task: CallTask, staff: Staff, when: datetime, note: str = "") -> CallTask:
    """"Call back later": the open task falls due at ``when`` instead (it leaves the
    inbox's "due now" until then) and the customer's timeline says when and why. A note
    given replaces the task's note, so whoever calls next reads it on the task.

    Raises InvalidInput naming ``when`` for a naive time, a time not after now or more
    than ``LATER_MAX`` ahead; ``note`` as ``complete_call_task``; ``task`` for a task that
    is no longer open.
    """
    check_text("note", note, text.NOTE)
    now = clock.now()
    if when.tzinfo is None:
        raise InvalidInput("when", "Must carry a time zone.", "invalid")
    if when <= now:
        raise InvalidInput("when", "Must be later than now.", "past")
    if when > now + LATER_MAX:
        raise InvalidInput("when", f"At most {LATER_MAX.days} days ahead.", "too_far")
    with transaction.atomic():
        locked = _locked_open(task)
        _move(locked, _touch_of(locked), staff, now, when, note)
    return locked


def _move(task: CallTask, touch: Touch, staff: Staff, now: datetime, when: datetime,
          note: str) -> None:
    """The open, locked ``task`` falls due at ``when``; a note given replaces its note."""
    task.due_at = when
    fields = ["due_at"]
    if note.strip():
        task.note = note.strip()
        fields.append("note")
    task.save(update_fields=fields)
    events.call_rescheduled(touch, staff.pk, now, when, note.strip())


def _locked_open(task: CallTask) -> CallTask:
    """The task's row, locked until the transaction ends; InvalidInput if it is done."""
    locked = CallTask.objects.select_for_update().get(pk=task.pk)
    if locked.state != TaskState.OPEN:
        raise InvalidInput("task", "This task is no longer open.", "not_open")
    return locked


def _touch_of(task: CallTask) -> Touch:
    return Touch.objects.select_related("enrollment__flow", "step").get(pk=task.touch_id)


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
