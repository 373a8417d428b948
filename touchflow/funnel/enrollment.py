"""Who enters which chain: what a visit, a purchase (one or an import's batch) and a
check-in's answer start and end. The passages themselves are ``delivery.enrollments``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from touchflow.core import clock
from touchflow.delivery.enrollments import end_for_purchase, enroll, leave
from touchflow.flows.check_ins import one_check_in
from touchflow.flows.models import Enrollment, EnrollmentState, Flow, FlowStep
from touchflow.flows.queries import active_flows, live_steps, matches_categories
from touchflow.flows.schedule import PURCHASE, ended_by_purchase, next_step
from touchflow.purchases.models import Purchase
from touchflow.visits.models import Visit


def flows_for_visit(visit: Visit) -> list[Flow]:
    return [
        f
        for f in active_flows()
        if "visit" in f.triggers
        and visit.visit_class in f.visit_classes
        and matches_categories(f, visit.categories)
    ]


def flows_for_purchase(purchase: Purchase) -> list[Flow]:
    """The purchase chains it enters: every one that matches, but one check-in at most
    (``flows.check_ins``)."""
    matching = [
        f
        for f in active_flows()
        if "purchase" in f.triggers and matches_categories(f, purchase.categories)
    ]
    return one_check_in(matching, purchase.customer_id, purchase.store, purchase.occurred_at)


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

