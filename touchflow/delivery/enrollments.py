"""A customer's passage through a chain as the engine sees it: entering one (the
enrollment and its first touch, for one customer or a whole segment) and leaving one
(the enrollment ends, its open touches and call tasks are cancelled).

Beside ``delivery.transitions``, the touches' one owner: the funnel (``touchflow.funnel``)
decides who enters and leaves which chain; this module does it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from touchflow.core import clock
from touchflow.customers.models import Customer
from touchflow.delivery import segments, transitions
from touchflow.delivery.call_tasks import cancel_open_call_tasks
from touchflow.delivery.models import Touch
from touchflow.flows.models import Enrollment, EnrollmentState, Flow, FlowStep
from touchflow.flows.queries import live_steps
from touchflow.flows.schedule import (
    PURCHASE,
    Policy,
    due_and_expiry,
    ended_by_purchase,
    new_idempotency_key,
    next_step,
    store_policy,
)
from touchflow.stores.models import Store
from touchflow.timeline import events

if TYPE_CHECKING:
    from touchflow.purchases.models import Purchase
    from touchflow.visits.models import Visit


def build_touch(
    enrollment: Enrollment,
    step: FlowStep,
    base: datetime,
    tz_name: str,
    policy: Policy,
    now: datetime,
) -> Touch:
    """An unsaved touch for ``step``, due ``base`` + the step's delay under the policy."""
    due, expires = due_and_expiry(step, base, tz_name, policy)
    return Touch(
        enrollment=enrollment,
        step=step,
        round=0,
        customer_id=enrollment.customer_id,
        store_id=enrollment.store_id,
        commercial=step.commercial,
        due_at=due,
        expires_at=expires,
        idempotency_key=new_idempotency_key(),
        created_at=now,
    )


def enroll(
    flow: Flow,
    customer: Customer,
    *,
    store: Store,
    at: datetime,
    staff_id: int | None = None,
    visit: Visit | None = None,
    purchase: Purchase | None = None,
) -> Enrollment | None:
    """Put the customer into the chain and schedule its first step.

    Returns None when they are already in it: a customer is never in the same chain
    twice at the same time (a partial unique index guarantees it under races).
    """
    steps = live_steps(flow)
    first = next_step(steps, None)
    if first is None:
        return None
    now = clock.now()
    try:
        with transaction.atomic():
            enrollment = Enrollment.objects.create(
                flow=flow,
                customer=customer,
                store=store,
                staff_id=staff_id,
                visit=visit,
                purchase=purchase,
                entered_at=at,
            )
            build_touch(enrollment, first, at, customer.time_zone, store_policy(store), now).save()
            events.enrolled(enrollment)
    except IntegrityError:
        return None
    return enrollment


def end_overlap(survivor_id: int, other_id: int, at: datetime) -> int:
    """Before two customers merge: where both are in the same chain, the survivor's
    passage goes on and the other's ends (one active enrollment per chain)."""
    shared = Enrollment.objects.filter(
        customer_id=survivor_id, state=EnrollmentState.ACTIVE
    ).values_list("flow_id", flat=True)
    return leave(other_id, "merged", at, flow_ids=list(shared))


def end_for_purchase(customer_id: int, purchased_at: datetime) -> int:
    """A purchase made at ``purchased_at`` ends the customer's passages through chains
    that exit on purchase and began before it (``ended_by_purchase``); a passage begun
    after it goes on. Returns how many ended. The dispatcher, finding a purchase right
    before a send, calls this with the purchase's time, never with its own clock."""
    return leave(customer_id, PURCHASE, purchased_at, only_rule=PURCHASE)


def _ends(enrollment: Enrollment, rule: str | None, at: datetime) -> bool:
    if rule == PURCHASE:
        return ended_by_purchase(enrollment.flow.exit_on, enrollment.entered_at, at)
    return rule is None or rule in enrollment.flow.exit_on


def leave(
    customer_id: int,
    reason: str,
    at: datetime,
    *,
    only_rule: str | None = None,
    flow_ids: Iterable[int] | None = None,
) -> int:
    """End the customer's active enrollments that began by ``at`` (those whose exit
    rules include ``only_rule``, when given; for a purchase, those begun before it),
    cancel their open touches and the call tasks their call steps made that nobody has
    done yet. Returns how many ended.

    A touch already claimed by a worker is cancelled too; the worker re-reads the
    enrollment right before sending and drops it.
    """
    qs = Enrollment.objects.select_related("flow").filter(
        customer_id=customer_id, state=EnrollmentState.ACTIVE, entered_at__lte=at
    )
    if flow_ids is not None:
        qs = qs.filter(flow_id__in=list(flow_ids))
    ended = [e for e in qs if _ends(e, only_rule, at)]
    if not ended:
        return 0
    now = clock.now()
    with transaction.atomic():
        for enrollment in ended:
            enrollment.state = EnrollmentState.EXITED
            enrollment.ended_at = now
            enrollment.end_reason = reason
            enrollment.save(update_fields=["state", "ended_at", "end_reason"])
            events.left_flow(enrollment)
        transitions.cancel_open([e.pk for e in ended], reason, now)
        # A call about a chain the customer has left (they bought, opted out) is not made.
        cancel_open_call_tasks(now, enrollment_ids=[e.pk for e in ended])
    return len(ended)


def enroll_many(
    flow: Flow, customers: QuerySet[Customer], *, store: Store, at: datetime | None = None
) -> int:
    """Enrol a whole segment (e.g. every imported customer) in one pass per time zone.

    Customers already in the chain are left as they are. Returns how many entered.
    """
    steps = live_steps(flow)
    first = next_step(steps, None)
    if first is None:
        return 0
    at = at or clock.now()
    now = clock.now()
    policy = store_policy(store)
    ids = customers.values("id")
    sql, params = ids.query.sql_with_params()
    entered = 0
    with transaction.atomic():
        for tz_name in customers.order_by().values_list("time_zone", flat=True).distinct():
            due, expires = due_and_expiry(first, at, tz_name, policy)
            entered += segments.enroll_segment(
                flow_id=flow.pk,
                flow_slug=flow.slug,
                flow_name=flow.name,
                customer_sql=sql,
                customer_params=list(params),
                time_zone=tz_name,
                store_id=store.pk,
                entered_at=at,
                step_id=first.pk,
                commercial=first.commercial,
                due_at=due,
                expires_at=expires,
                now=now,
            )
    return entered

