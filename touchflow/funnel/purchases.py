"""Recording purchases one at a time (the API, the till, a visit logged as bought) and
the chains each one ends and starts. The import writes its batches in bulk
(``funnel.import_write``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from touchflow.core import clock
from touchflow.core.errors import InvalidInput
from touchflow.core.idempotent import by_external_id, write_once
from touchflow.customers import actions as customer_actions
from touchflow.customers.actions import ConsentGrant, ContactInput
from touchflow.customers.models import Customer
from touchflow.delivery import credit
from touchflow.funnel import customers as funnel_customers
from touchflow.funnel import enrollment
from touchflow.integrations.actor import Actor
from touchflow.purchases.actions import check_amount, check_currency
from touchflow.purchases.models import Purchase
from touchflow.stores.models import Store
from touchflow.timeline import events
from touchflow.timeline.models import TimelineEvent
from touchflow.visits.models import Visit


@dataclass(frozen=True)
class Buyer:
    """The customer of a purchase as the seller knows them: found by their contacts or
    their id in the store's system, or created with them (``resolve_customer``)."""

    contacts: Sequence[ContactInput] = ()
    external_id: str | None = None
    name: str = ""
    language: str | None = None
    time_zone: str | None = None
    consent: ConsentGrant | None = None


def record_purchase(
    *,
    store: Store,
    actor: Actor,
    customer: Customer | Buyer,
    amount: Any,
    currency: str | None = None,
    occurred_at: datetime | None = None,
    categories: Sequence[str] = (),
    items: Sequence[dict[str, Any]] = (),
    visit: Visit | None = None,
    external_id: str | None = None,
) -> tuple[Purchase, bool]:
    """Record one purchase. Idempotent by ``external_id`` within the store: a repeat
    returns the first purchase and creates no customer. ``customer``: a known customer,
    or a ``Buyer`` found or created in the purchase's own transaction (a refused
    purchase leaves no customer behind).

    A purchase carrying a visit is that visit's sale: when the visit was logged as
    bought, its sale is already on file with the amount unknown, and this completes
    it (one sale, whose chains were entered when the visit was logged). A further
    purchase of the same visit (a split receipt) is recorded, but enters no chain again.
    """
    existing = by_external_id(Purchase, store, external_id)
    replayed = existing()
    if replayed is not None:
        return replayed, False
    now, occurred_at = clock.occurred(occurred_at, "A purchase")
    value = check_amount(amount)
    code = check_currency(currency or store.currency)
    if visit is not None and visit.store_id != store.pk:
        raise InvalidInput("visit_id", "The visit belongs to another store.", "not_allowed")
    if isinstance(customer, Customer):
        customer = customer_actions.resolve(customer)
    sale = _Sale(
        store=store,
        actor=actor,
        customer=customer,
        amount=value,
        currency=code,
        occurred_at=occurred_at,
        categories=list(dict.fromkeys(c for c in categories if c)),
        items=list(items),
        visit=visit,
        external_id=external_id or None,
        now=now,
    )
    return write_once(sale.write, existing)


@dataclass
class _Sale:
    """The writes of one purchase, in one transaction."""

    store: Store
    actor: Actor
    customer: Customer | Buyer
    amount: Decimal
    currency: str
    occurred_at: datetime
    categories: list[str]
    items: list[dict[str, Any]]
    visit: Visit | None
    external_id: str | None
    now: datetime

    def write(self) -> Purchase:
        customer = self._customer()
        if self.visit is None:
            return self._create(customer, enter_chains=True)
        # Locked: two receipts for one visit complete its sale once.
        of_visit = list(Purchase.objects.select_for_update().filter(visit=self.visit))
        pending = next((p for p in of_visit if p.pending), None)
        if pending is not None:
            return self._complete(customer, pending)
        return self._create(customer, enter_chains=not of_visit)

    def _customer(self) -> Customer:
        if isinstance(self.customer, Customer):
            return self.customer
        buyer = self.customer
        timeline: list[TimelineEvent] = []
        found, _created = funnel_customers.resolve_customer(
            store=self.store, actor=self.actor, contacts=buyer.contacts,
            external_id=buyer.external_id, name=buyer.name, language=buyer.language,
            time_zone=buyer.time_zone, consent=buyer.consent, at=self.occurred_at,
            timeline=timeline,
        )
        events.write_rows(timeline)
        return found

    def _create(self, customer: Customer, *, enter_chains: bool) -> Purchase:
        purchase = Purchase.objects.create(
            customer=customer,
            store=self.store,
            visit=self.visit,
            occurred_at=self.occurred_at,
            amount=self.amount,
            currency=self.currency,
            categories=self.categories,
            items=self.items,
            source=self.actor.source,
            external_id=self.external_id,
            created_at=self.now,
        )
        customer_actions.link_store(customer, self.store, self.occurred_at)
        events.purchase_recorded(purchase, credited(self.store, customer.pk, self.occurred_at))
        if enter_chains:
            enrollment.on_purchase_recorded(purchase)
        return purchase

    def _complete(self, customer: Customer, pending: Purchase) -> Purchase:
        """The till reports the amount of a sale logged at the counter. The sale keeps
        the visit's time (its chains were entered then); the timeline shows it now, with
        its amount."""
        if pending.customer_id != customer.pk:
            raise InvalidInput(
                "visit_id", "The visit was logged for another customer.", "conflict"
            )
        pending.amount = self.amount
        pending.currency = self.currency
        pending.categories = self.categories or pending.categories
        pending.items = self.items
        pending.external_id = self.external_id
        pending.save(update_fields=["amount", "currency", "categories", "items", "external_id"])
        customer_actions.link_store(customer, self.store, pending.occurred_at)
        events.purchase_recorded(pending, credited(self.store, customer.pk, pending.occurred_at))
        return pending


def credited(store: Store, customer_id: int, at: datetime) -> credit.Credit:
    """The chain and step a sale at ``at`` is credited to (``delivery.credit``), within
    the store's attribution window."""
    return credited_many(store, [(customer_id, at)])[0]


def credited_many(store: Store, sales: Sequence[tuple[int, datetime]]) -> list[credit.Credit]:
    """``credited`` for many sales (customer id, time) of one store, in one query."""
    return credit.last_touches(store.pk, sales, timedelta(days=store.attribution_days))


def record_visit_sale(visit: Visit) -> Purchase | None:
    """A visit logged as bought is a sale: on file at once with its amount unknown, so
    it has a purchase's effect on the chains (leave those that exit on purchase, enter
    the purchase chains with the visit's seller) even where no till reports sales.

    Called by ``log_visit`` inside its transaction. Writes no timeline row: the visit's
    own row says "bought", and the purchase row follows when the till reports the amount.
    A visit with no known customer has no one to follow up: nothing is recorded.
    """
    if not visit.bought or visit.customer is None:
        return None
    purchase = Purchase.objects.create(
        customer=visit.customer,
        store=visit.store,
        visit=visit,
        occurred_at=visit.occurred_at,
        amount=None,
        currency=visit.store.currency,
        categories=list(visit.categories),
        items=[],
        source=visit.source,
        external_id=None,
        created_at=visit.created_at,
    )
    enrollment.on_purchase_recorded(purchase)
    return purchase

