"""Recording purchases, one at a time (API, counter) — the importer has its own bulk path."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction

from touchflow.core import clock, currencies
from touchflow.core.actor import Actor
from touchflow.core.errors import InvalidInput
from touchflow.customers import actions as customer_actions
from touchflow.customers.models import Customer
from touchflow.flows import enrollment as flow_enrollment
from touchflow.purchases.models import Purchase
from touchflow.stores.models import Store
from touchflow.timeline import events
from touchflow.visits.models import Visit


def check_amount(raw: Any) -> Decimal:
    try:
        amount = Decimal(str(raw))
    except (InvalidOperation, ValueError) as exc:
        raise InvalidInput("amount", f"Not a number: {raw!r}.", "invalid_number") from exc
    if not amount.is_finite() or amount < 0:
        raise InvalidInput("amount", "The amount must be zero or more.", "out_of_range")
    if amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise InvalidInput("amount", "At most two decimal places.", "invalid_number")
    if amount >= Decimal("1e12"):
        raise InvalidInput("amount", "The amount is too large.", "out_of_range")
    return amount


def check_currency(code: str) -> str:
    """The code in capitals if it is a current ISO 4217 currency ("pln" → "PLN");
    three letters that name no currency ("ABC") are refused."""
    code = (code or "").strip().upper()
    if not currencies.is_currency(code):
        raise InvalidInput(
            "currency", "Use an ISO 4217 currency code such as GBP.", "invalid_currency"
        )
    return code


def record_purchase(
    *,
    store: Store,
    actor: Actor,
    customer: Customer,
    amount: Any,
    currency: str | None = None,
    occurred_at: datetime | None = None,
    categories: Sequence[str] = (),
    items: Sequence[dict[str, Any]] = (),
    visit: Visit | None = None,
    external_id: str | None = None,
) -> tuple[Purchase, bool]:
    """Record one purchase. Idempotent by ``external_id`` within the store."""
    if external_id:
        existing = Purchase.objects.filter(store=store, external_id=external_id).first()
        if existing is not None:
            return existing, False
    now, occurred_at = clock.occurred(occurred_at, "A purchase")
    value = check_amount(amount)
    code = check_currency(currency or store.currency)
    if visit is not None and visit.store_id != store.pk:
        raise InvalidInput("visit_id", "The visit belongs to another store.", "not_allowed")
    customer = customer_actions.resolve(customer)
    try:
        with transaction.atomic():
            purchase = Purchase.objects.create(
                customer=customer,
                store=store,
                visit=visit,
                occurred_at=occurred_at,
                amount=value,
                currency=code,
                categories=list(dict.fromkeys(c for c in categories if c)),
                items=list(items),
                source=actor.source,
                external_id=external_id or None,
                created_at=now,
            )
            customer_actions.link_store(customer, store, occurred_at)
            events.purchase_recorded(purchase)
            flow_enrollment.on_purchase_recorded(purchase)
    except IntegrityError:
        if external_id:
            existing = Purchase.objects.filter(store=store, external_id=external_id).first()
            if existing is not None:
                return existing, False
        raise
    return purchase, True
