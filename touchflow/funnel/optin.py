"""Redeeming the counter's QR token: a messenger chat becomes the visit's customer's
contact point, with consent recorded as a QR opt-in.

The customer may scan before the salesperson has saved the visit. Then the chat is
linked to a customer created for it at once, and when the visit is saved with that
token (``attach_to_visit``) the two are one person and merge.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from touchflow.core import clock
from touchflow.customers.actions import (
    create_customer,
    link_contacts,
    record_consent,
    resolve,
)
from touchflow.customers.models import (
    ConsentPurpose,
    ConsentSource,
    ContactPoint,
    Customer,
    OptInToken,
)
from touchflow.funnel.customers import merge_customers
from touchflow.integrations.actor import Actor
from touchflow.timeline import events
from touchflow.timeline.models import TimelineEvent

QR = Actor(source=ConsentSource.QR)


@dataclass(frozen=True)
class Redeemed:
    ok: bool
    customer: Customer | None = None
    reason: str = ""  # unknown | expired | used | wrong_channel | wrong_store
    store_id: int | None = None


def redeem(
    token: str, kind: str, address: str, *, store_id: int, name: str = "",
    network: str = "", at: datetime | None = None,
) -> Redeemed:
    """Link the chat ``(kind, network, address)`` through ``token``. Single use: an
    expired, used or foreign token links nothing. Idempotent for the same chat: a
    second press of Start with the same token answers ok without a second consent."""
    at = at or clock.now()
    with transaction.atomic():
        row = (
            # of=self: PostgreSQL cannot lock the nullable side of the customer join.
            OptInToken.objects.select_for_update(of=("self",)).select_related("customer")
            .filter(token=token).first()
        )
        if row is None:
            return Redeemed(False, reason="unknown")
        if row.store_id != store_id:
            return Redeemed(False, reason="wrong_store")
        if row.channel != kind:
            return Redeemed(False, reason="wrong_channel")
        existing = ContactPoint.objects.filter(kind=kind, network=network, value=address).first()
        if row.redeemed_at is not None:
            # Start pressed twice in the same chat: fine. Anyone else: already used.
            if existing is not None and row.customer is not None:
                owner = resolve(existing.customer)
                if owner.pk == resolve(row.customer).pk:
                    return Redeemed(True, customer=owner, store_id=row.store_id)
            return Redeemed(False, reason="used")
        if row.expires_at <= at:
            return Redeemed(False, reason="expired")
        customer = resolve(row.customer) if row.customer is not None else None
        if existing is not None:
            owner = resolve(existing.customer)
            if customer is not None and owner.pk != customer.pk:
                older, younger = sorted((owner, customer), key=lambda c: c.pk)
                customer = merge_customers(older, younger, QR, at)
            customer = customer or owner
            point = ContactPoint.objects.get(pk=existing.pk)
        else:
            if customer is None:
                rows: list[TimelineEvent] = []
                customer = create_customer(row.store, QR, at, rows, name=name,
                                           country=row.store.country)
                events.write_rows(rows)
            point = ContactPoint.objects.create(
                customer=customer, kind=kind, network=network, value=address, created_at=at
            )
            events.contact_added(point, QR)
        link_contacts([point], store_id, at)  # scanned at this store: it knows the chat
        for purpose in (ConsentPurpose.CONTACT, ConsentPurpose.MARKETING):
            record_consent(point, purpose, True, QR, at=at, note="QR opt-in", store=row.store)
        row.customer = customer
        row.redeemed_at = at
        row.save(update_fields=["customer", "redeemed_at"])
    return Redeemed(True, customer=customer, store_id=store_id)


def attach_to_visit(token: str, store_id: int, visit_id: int, customer_id: int | None) -> None:
    """Tie the QR token shown during a visit to it. If the customer already scanned it,
    the chat's customer and the visit's customer are the same person: merge them."""
    row = OptInToken.objects.filter(token=token, store_id=store_id, visit__isnull=True).first()
    if row is None:
        return
    if row.redeemed_at is None or row.customer_id is None:
        OptInToken.objects.filter(pk=row.pk).update(visit_id=visit_id, customer_id=customer_id)
        return
    OptInToken.objects.filter(pk=row.pk).update(visit_id=visit_id)
    if customer_id is None or customer_id == row.customer_id:
        return
    chat_customer = resolve(Customer.objects.get(pk=row.customer_id))
    visit_customer = resolve(Customer.objects.get(pk=customer_id))
    if chat_customer.pk != visit_customer.pk:
        older, younger = sorted((chat_customer, visit_customer), key=lambda c: c.pk)
        merge_customers(older, younger, QR)
