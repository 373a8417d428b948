"""Rows → the dicts of ``schemas``' answers.

A replayed request must answer the very body the first one did, so values are
normalised here rather than echoed: times in UTC, amounts with two decimals (a fresh
row holds what was sent, a reloaded one what the database keeps).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from touchflow.customers import visibility
from touchflow.customers.models import Customer
from touchflow.customers.visibility import ContactView, Stores
from touchflow.purchases.models import Purchase
from touchflow.stores.models import Category, Store
from touchflow.timeline.models import TimelineEvent
from touchflow.visits.models import Reason, Visit

CENT = Decimal("0.01")


def utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value is not None else None


def money(value: Decimal | str) -> str:
    return str(Decimal(value).quantize(CENT))


def visit(row: Visit, store: Store) -> dict[str, Any]:
    """``store`` is the visit's store, already at hand in every caller."""
    return {
        "id": row.pk,
        "store": store.slug,
        "staff": row.staff.username if row.staff_id and row.staff else None,
        "customer_id": row.customer_id,
        "occurred_at": utc(row.occurred_at),
        "bought": row.bought,
        "contact_capture": row.contact_capture,
        "reason": row.reason.code if row.reason_id and row.reason else None,
        "visit_class": row.visit_class,
        "categories": list(row.categories),
        "note": row.note,
        "external_id": row.external_id,
        "created_at": utc(row.created_at),
    }


def item(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "sku": str(raw.get("sku", "")),
        "name": str(raw.get("name", "")),
        "quantity": int(raw.get("quantity", 1)),
        "unit_price": money(raw.get("unit_price", "0")),
    }


def purchase(row: Purchase, store: Store) -> dict[str, Any]:
    return {
        "id": row.pk,
        "store": store.slug,
        "customer_id": row.customer_id,
        "visit_id": row.visit_id,
        "occurred_at": utc(row.occurred_at),
        "amount": None if row.amount is None else money(row.amount),
        "currency": row.currency,
        "categories": list(row.categories),
        "items": [item(i) for i in row.items],
        "external_id": row.external_id,
        "created_at": utc(row.created_at),
    }


def contact(view: ContactView) -> dict[str, Any]:
    point, consent = view.point, view.consent
    return {
        "kind": point.kind,
        "network": point.network,
        "value": point.value,
        "consent": {
            "contact": consent.contact,
            "marketing": consent.marketing,
            "updated_at": utc(consent.updated_at),
        },
    }


def customer(row: Customer, stores: Stores, requested_id: int | None = None) -> dict[str, Any]:
    """The customer as ``stores`` may see them (decision 0008; None: everything).

    ``requested_id``: the id the caller asked for, when it may be a merged one. The
    home store, tags and creation time belong to the home store's record; another store
    reads its own name, contacts and consent, and when it first met them.
    ``row.store_external_id``: the customer's id in the caller's store (without a store:
    in the home store), annotated by the query — external ids are per store.
    """
    asked = requested_id if requested_id is not None else row.pk
    view = visibility.view_of(row, stores)
    return {
        "id": row.pk,
        "requested_id": asked,
        "merged_into": row.pk if asked != row.pk else None,
        "name": view.name,
        "language": row.language,
        "time_zone": row.time_zone,
        "country": row.country,
        "tags": list(row.tags) if view.sees_record else [],
        "external_id": getattr(row, "store_external_id", None),
        "home_store": row.home_store.slug if view.sees_record else None,
        "created_at": utc(view.since or row.created_at),
        "contacts": [contact(c) for c in sorted(view.contacts, key=lambda c: c.point.pk)],
    }


def timeline_event(row: TimelineEvent) -> dict[str, Any]:
    return {
        "kind": row.kind,
        "at": utc(row.at),
        "store": row.store.slug if row.store_id and row.store else None,
        "staff": row.staff.username if row.staff_id and row.staff else None,
        "visit_id": row.visit_id,
        "purchase_id": row.purchase_id,
        "data": row.data,
    }


def reason(row: Reason) -> dict[str, Any]:
    return {
        "code": row.code,
        "kind": row.kind,
        "labels": {"en": row.label_en, "ru": row.label("ru"), "pl": row.label("pl")},
    }


def category(row: Category) -> dict[str, Any]:
    return {
        "code": row.slug,
        "labels": {"en": row.name_en, "ru": row.label("ru"), "pl": row.label("pl")},
    }
