"""Unhappy customers reach a person: opening an escalation, resolving it, and what a
manager's list shows (issue 10; decision 0021).

Opening one, in the answer's transaction: the store's manager is given a task due
within the store's response time counted in its opening hours (``core.working_hours``),
told on their own channel (``messaging.alerts`` picks up what was not yet told),
the customer's commercial messages are held (``Customer.commercial_held``, read by the
engine's verdict), and the chains that exit on "unhappy" end. Resolving the last open
one releases the hold.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import QuerySet

from touchflow.aftercare.models import CheckInAnswer, Escalation, EscalationReason, Resolution
from touchflow.core import working_hours
from touchflow.core.errors import InvalidInput
from touchflow.core.text import NOTE, check_text
from touchflow.customers.models import Customer
from touchflow.delivery.enrollments import leave
from touchflow.delivery.models import Touch
from touchflow.flows import answers
from touchflow.stores.models import Role, Staff, Store
from touchflow.timeline import events

UNHAPPY = "unhappy"  # the exit rule of chains that end when a customer is unhappy


def open_for(answer: CheckInAnswer, at: datetime) -> Escalation | None:
    """Open the escalation an unhappy answer calls for; None when its check-in has one."""
    reason = EscalationReason.NO if answer.kind == answers.YES_NO else EscalationReason.RATING
    return _open(answer.touch, answer, reason, answer.text, at)


def open_for_complaint(touch: Touch, text: str, at: datetime) -> Escalation | None:
    """Open the escalation a complaint written in reply to the check-in ``touch`` calls
    for (the reply itself stays on the timeline as a reply); None when it has one."""
    return _open(touch, None, EscalationReason.COMPLAINT, text, at)


def _open(touch: Touch, answer: CheckInAnswer | None, reason: str, text: str,
          at: datetime) -> Escalation | None:
    if Escalation.objects.filter(touch=touch).exists():
        return None  # one per check-in: a second complaint goes to the same person
    store = Store.objects.get(pk=touch.store_id)
    enrollment = touch.enrollment
    with transaction.atomic():
        escalation = Escalation.objects.create(
            customer_id=touch.customer_id, store=store, touch=touch, answer=answer,
            reason=reason, text=text[:500], purchase_id=enrollment.purchase_id,
            visit_id=enrollment.visit_id, seller_id=enrollment.staff_id,
            assignee=manager_of(store), opened_at=at, due_at=due(store, at),
        )
        Customer.objects.filter(pk=touch.customer_id).update(commercial_held=True)
        leave(touch.customer_id, UNHAPPY, at, only_rule=UNHAPPY)
        events.escalation_opened(escalation.customer_id, at, store_id=store.pk,
                                 staff_id=escalation.seller_id, data=_opened_data(escalation))
    return escalation


def due(store: Store, at: datetime) -> datetime:
    """When a manager must have reached the customer: the store's response time in its
    opening hours; a store never open counts plain hours."""
    response = timedelta(hours=store.response_hours)
    try:
        return working_hours.deadline(at, response, store.hours())
    except ValueError:
        return at + response


def manager_of(store: Store) -> Staff | None:
    """The store's manager who gets its escalations (the longest-serving one)."""
    found: Staff | None = (
        Staff.objects.filter(role=Role.MANAGER, stores=store, is_active=True).order_by("pk")
        .first()
    )
    return found


def resolve(escalation: Escalation, staff: Staff, resolution: str, note: str,
            at: datetime) -> Escalation:
    """Close the escalation with what was done; the last open one of the customer
    releases their commercial messages. InvalidInput names the field."""
    if resolution not in Resolution.values:
        raise InvalidInput("resolution", "Choose what was done.")
    note = check_text("note", note.strip(), NOTE)
    with transaction.atomic():
        row = Escalation.objects.select_for_update().get(pk=escalation.pk)
        if row.resolved_at is not None:
            raise InvalidInput("resolution", "This escalation is already resolved.")
        row.resolved_at, row.resolved_by, row.resolution, row.note = at, staff, resolution, note
        row.save(update_fields=["resolved_at", "resolved_by", "resolution", "note"])
        still_open = Escalation.objects.filter(customer_id=row.customer_id,
                                               resolved_at__isnull=True).exists()
        if not still_open:
            Customer.objects.filter(pk=row.customer_id).update(commercial_held=False)
        events.escalation_resolved(row.customer_id, at, store_id=row.store_id,
                                   staff_id=staff.pk, data={
                                       "escalation": row.pk, "resolution": resolution,
                                       "note": note, "overdue": at > row.due_at,
                                       "working_minutes": _minutes(row, at)})
    return row


def _minutes(row: Escalation, at: datetime) -> int:
    """How long it took, in the store's opening hours (plain time for a store with none,
    as its deadline was counted)."""
    hours = row.store.hours()
    spent = (working_hours.working_time_between(row.opened_at, at, hours) if hours.week
             else at - row.opened_at)
    return int(spent.total_seconds() // 60)


def of_stores(stores: list[int] | None) -> QuerySet[Escalation]:
    """The escalations of ``stores`` (None: every store)."""
    rows = Escalation.objects.select_related("customer", "store", "assignee", "seller",
                                             "answer", "resolved_by")
    return rows if stores is None else rows.filter(store_id__in=stores)


def listed(stores: list[int] | None, state: str = "open",
           now: datetime | None = None) -> QuerySet[Escalation]:
    """The escalations of ``stores`` (None: every store) in ``state``: open, overdue
    (open and past due at ``now``) or resolved; most urgent first."""
    rows = of_stores(stores)
    if state == "resolved":
        return rows.filter(resolved_at__isnull=False).order_by("-resolved_at", "-pk")
    rows = rows.filter(resolved_at__isnull=True)
    if state == "overdue":
        rows = rows.filter(due_at__lt=now)
    return rows.order_by("due_at", "pk")


def _opened_data(escalation: Escalation) -> events.EscalationOpenedData:
    answer = escalation.answer
    return {"escalation": escalation.pk, "reason": escalation.reason,
            "answer": answer.value if answer else None, "text": escalation.text,
            "due_at": escalation.due_at.isoformat(),
            "assignee": escalation.assignee_id}
