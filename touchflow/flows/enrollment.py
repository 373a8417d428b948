"""Who enters which chain, who leaves it, and what each enrollment does next.

Called by the visit and purchase actions as they happen (counter, API, import),
and by the dispatcher when a touch is finished.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from touchflow.core import clock
from touchflow.core.ttlcache import TTLCache
from touchflow.customers.models import Customer
from touchflow.delivery import transitions
from touchflow.delivery.call_tasks import cancel_open_call_tasks
from touchflow.delivery.models import Touch
from touchflow.flows import queries
from touchflow.flows.check_ins import one_check_in
from touchflow.flows.models import Enrollment, EnrollmentState, Flow, FlowStatus, FlowStep
from touchflow.flows.schedule import Policy, due_and_expiry, new_idempotency_key, next_step
from touchflow.stores.models import Store
from touchflow.timeline import events

if TYPE_CHECKING:
    from touchflow.purchases.models import Purchase
    from touchflow.visits.models import Visit

# Touches still to go out: queued (or claimed, the old name), or held by a paused chain.
PURCHASE = "purchase"


def ended_by_purchase(exit_on: Iterable[str], entered_at: datetime,
                      purchased_at: datetime | None) -> bool:
    """The one rule for a purchase ending a passage through a chain: the chain exits on
    purchase and the purchase came after the customer entered. A purchase before the
    entry, or at the same moment (the sale that started a purchase chain, or the sale of
    the visit that entered it), does not end it. The dispatcher's check before sending
    and ``leave`` both follow it."""
    return purchased_at is not None and PURCHASE in exit_on and purchased_at > entered_at


def store_policy(store: Store) -> Policy:
    return Policy(
        quiet=(store.quiet_hours_start, store.quiet_hours_end),
        cap_messages=store.cap_messages,
        cap_commercial=store.cap_commercial,
        cap_period=timedelta(days=store.cap_period_days),
    )


def live_steps(flow: Flow) -> list[FlowStep]:
    return [s for s in flow.steps.order_by("position") if not s.retired]


def _matches_categories(flow: Flow, categories: Sequence[str]) -> bool:
    return not flow.categories or bool(set(flow.categories) & set(categories))


_active: TTLCache[str, list[Flow]] = TTLCache()


def active_flows() -> list[Flow]:
    """The active chains, re-read once per ``TOUCHFLOW_CACHE_SECONDS`` per process."""
    return _active.get("active", lambda: list(Flow.objects.filter(status=FlowStatus.ACTIVE)))


def forget_active_flows() -> None:
    _active.clear()


def flows_for_visit(visit: Visit) -> list[Flow]:
    return [
        f
        for f in active_flows()
        if "visit" in f.triggers
        and visit.visit_class in f.visit_classes
        and _matches_categories(f, visit.categories)
    ]


def flows_for_purchase(purchase: Purchase) -> list[Flow]:
    """The purchase chains it enters: every one that matches, but one check-in at most
    (``flows.check_ins``)."""
    matching = [
        f
        for f in active_flows()
        if "purchase" in f.triggers and _matches_categories(f, purchase.categories)
    ]
    return one_check_in(matching, purchase.customer_id, purchase.store, purchase.occurred_at)


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


def on_visit_logged(visit: Visit) -> list[Enrollment]:
    """Enter the chains whose audience this visit matches."""
    if visit.customer is None:
        return []
    entered = []
    for flow in flows_for_visit(visit):
        enrollment = enroll(
            flow,
            visit.customer,
            store=visit.store,
            at=visit.occurred_at,
            staff_id=visit.staff_id,
            visit=visit,
        )
        if enrollment is not None:
            entered.append(enrollment)
    return entered


def on_purchase_recorded(purchase: Purchase) -> list[Enrollment]:
    """A purchase ends the chains that exit on purchase, then starts the purchase chains."""
    end_for_purchase(purchase.customer_id, purchase.occurred_at)
    entered = []
    staff_id = purchase.visit.staff_id if purchase.visit_id and purchase.visit else None
    for flow in flows_for_purchase(purchase):
        enrollment = enroll(
            flow,
            purchase.customer,
            store=purchase.store,
            at=purchase.occurred_at,
            staff_id=staff_id,
            purchase=purchase,
        )
        if enrollment is not None:
            entered.append(enrollment)
    return entered


def on_check_in_answered(enrollment: Enrollment, at: datetime, *, happy: bool) -> list[Enrollment]:
    """A customer's first answer to the check-in of ``enrollment``: the chains entered
    on ``answered`` (a review request: to every customer who answered, or, where the
    store has no review page, to nobody) and, for a happy answer, on ``happy`` (a
    referral request). They carry the check-in's seller, purchase and visit."""
    triggers = {"answered", "happy"} if happy else {"answered"}
    store = enrollment.store
    entered = []
    for flow in active_flows():
        if not triggers & set(flow.triggers):
            continue
        if not store.review_url and _asks_for_reviews(flow):
            continue
        joined = enroll(flow, enrollment.customer, store=store, at=at,
                        staff_id=enrollment.staff_id, visit=enrollment.visit,
                        purchase=enrollment.purchase)
        if joined is not None:
            entered.append(joined)
    return entered


def _asks_for_reviews(flow: Flow) -> bool:
    return FlowStep.objects.filter(flow=flow, kind="review_request", retired=False).exists()


def on_purchases_imported(purchases: Sequence[Purchase]) -> int:
    """The import's bulk form of ``on_purchase_recorded``.

    Purchases end the chains that exit on purchase, in one query for the batch. Only a
    purchase recent enough for a chain's first step still to go out in time enters that
    chain: purchase history from years ago enters nothing (its touches would only
    expire). Returns how many enrollments began.
    """
    if not purchases:
        return 0
    latest: dict[int, datetime] = {}
    for p in purchases:
        latest[p.customer_id] = max(latest.get(p.customer_id, p.occurred_at), p.occurred_at)
    ending = [
        e
        for e in Enrollment.objects.select_related("flow").filter(
            customer_id__in=latest, state=EnrollmentState.ACTIVE
        )
        if ended_by_purchase(e.flow.exit_on, e.entered_at, latest[e.customer_id])
    ]
    for enrollment in ending:
        leave(
            enrollment.customer_id,
            PURCHASE,
            latest[enrollment.customer_id],
            only_rule=PURCHASE,
            flow_ids=[enrollment.flow_id],
        )
    now = clock.now()
    horizons = {}
    for flow in [f for f in active_flows() if "purchase" in f.triggers]:
        first = next_step(live_steps(flow), None)
        if first is not None:
            horizons[flow.pk] = timedelta(seconds=first.delay_seconds + first.expires_seconds)
    longest = max(horizons.values(), default=timedelta(0))
    entered = 0
    for purchase in purchases:
        if purchase.occurred_at + longest <= now:
            continue  # history (most of a file): nothing to enter, nothing to ask
        for flow in flows_for_purchase(purchase):
            if flow.pk in horizons and purchase.occurred_at + horizons[flow.pk] > now:
                entered += enroll(flow, purchase.customer, store=purchase.store,
                                  at=purchase.occurred_at, purchase=purchase) is not None
    return entered


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
            entered += queries.enroll_segment(
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
