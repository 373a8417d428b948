"""``POST /purchases``: a POS reports a sale."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from ninja import Router, Status

from touchflow.api import scope, serializers
from touchflow.api.auth import actor_for, token_of
from touchflow.api.contacts import consent_of, contacts_of
from touchflow.api.errors import ApiError, fields
from touchflow.api.schemas import ErrorOut, PurchaseIn, PurchaseOut
from touchflow.core.errors import InvalidInput
from touchflow.customers.models import Customer
from touchflow.funnel.purchases import Buyer, record_purchase
from touchflow.integrations.models import ApiToken
from touchflow.stores.models import Store

router = Router(tags=["purchases"])

_LIMIT = Decimal("1e12")
_FIELDS = {"contacts": "customer", "language": "customer.language",
           "time_zone": "customer.time_zone"}


@router.post("/purchases", response={200: PurchaseOut, 201: PurchaseOut, 401: ErrorOut,
                                     403: ErrorOut, 404: ErrorOut, 422: ErrorOut})
def create_purchase(request: HttpRequest, payload: PurchaseIn) -> Status[dict[str, Any]]:
    """Record a purchase for `customer_id`, or for the customer found (or created) from
    `customer`'s contacts and external id. Idempotent by `external_id` within the
    store: a repeat answers 200 with the first purchase and changes nothing."""
    token = token_of(request)
    store = scope.store_for_write(token, payload.store)
    with fields(_FIELDS):
        purchase, created = record_purchase(
            store=store,
            actor=actor_for(request),
            customer=_customer(token, store, payload),
            amount=_amount(payload.amount),
            currency=payload.currency,
            occurred_at=scope.local_time(payload.occurred_at, store),
            categories=payload.categories or (),
            items=[_item(i) for i in payload.items or ()],
            visit=scope.visit_in_store(store, payload.visit_id),
            external_id=payload.external_id,
        )
    return Status(201 if created else 200, serializers.purchase(purchase, store))


def _customer(token: ApiToken, store: Store, payload: PurchaseIn) -> Customer | Buyer:
    """The customer by id, or the buyer as given (found or created by the action)."""
    if payload.customer_id is not None and payload.customer is not None:
        raise ApiError(422, "customer", "Give customer_id or customer, not both.", "conflict")
    if payload.customer_id is not None:
        return scope.customer_by_id(token, payload.customer_id, "customer_id")
    person = payload.customer
    if person is None:
        raise InvalidInput("customer_id", "Give customer_id or a customer object.", "required")
    return Buyer(
        contacts=contacts_of(person, store, "customer"),
        external_id=person.external_id,
        name=person.name or "",
        language=person.language,
        time_zone=person.time_zone,
        consent=consent_of(person.consent),
    )


def _amount(value: Decimal) -> Decimal:
    """Two decimals, as the database keeps it, so the timeline row written now says
    ``10.00`` like every reloaded purchase. A value the domain will refuse (too many
    decimals, too large) passes through untouched for it to say why."""
    if value.is_finite() and value.as_tuple().exponent >= -2 and abs(value) < _LIMIT:  # type: ignore[operator]
        return value.quantize(serializers.CENT)
    return value


def _item(raw: Any) -> dict[str, Any]:
    return {"sku": raw.sku, "name": raw.name, "quantity": raw.quantity,
            "unit_price": serializers.money(raw.unit_price)}
