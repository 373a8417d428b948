"""``POST /visits``: a POS or tablet logs a visit and its result."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Status

from touchflow.api import scope, serializers
from touchflow.api.auth import actor_for, token_of
from touchflow.api.contacts import consent_of, contacts_of
from touchflow.api.errors import fields
from touchflow.api.schemas import ErrorOut, VisitIn, VisitOut
from touchflow.funnel.visits import log_visit

router = Router(tags=["visits"])

# Domain parameters → where the integrator put them.
_FIELDS = {"contacts": "customer", "language": "customer.language",
           "time_zone": "customer.time_zone", "referral_code": "referral_code"}


@router.post("/visits", response={200: VisitOut, 201: VisitOut, 401: ErrorOut, 403: ErrorOut,
                                  404: ErrorOut, 422: ErrorOut})
def create_visit(request: HttpRequest, payload: VisitIn) -> Status[dict[str, Any]]:
    """Log a visit. Idempotent by `external_id` within the store: the first call answers
    201, a repeat answers 200 with the visit the first call created (whatever else
    the repeat says)."""
    token = token_of(request)
    store = scope.store_for_write(token, payload.store)
    staff = scope.staff_named(payload.staff, store)
    person = payload.customer
    customer = None
    if person is not None and person.id is not None:
        customer = scope.customer_by_id(token, person.id, "customer.id")
    with fields(_FIELDS):
        visit, created = log_visit(
            store=store,
            actor=actor_for(request, staff),
            bought=payload.bought,
            contact_capture=payload.contact_capture,
            occurred_at=scope.local_time(payload.occurred_at, store),
            staff=staff,
            customer=customer,
            contacts=contacts_of(person, store, "customer"),
            name=(person.name or "") if person else "",
            language=person.language if person else None,
            time_zone=person.time_zone if person else None,
            consent=consent_of(person.consent) if person else None,
            reason=payload.reason,
            categories=payload.categories or (),
            note=payload.note or "",
            external_id=payload.external_id,
            referral_code=payload.referral_code,
        )
    return Status(201 if created else 200, serializers.visit(visit, store))
