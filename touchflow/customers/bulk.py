"""Creating many customers at once: the bulk form of ``actions.create_customer``, for
the importer.

The same rows as one at a time — the customer with the store's language and time zone
and the store as home, each contact point, a contact of an erased person that comes
back with its consent withdrawn (``suppression``), the ``customer_created`` and
``contact_added`` timeline rows — written without the ORM's per-field work. The store
link is the caller's: the importer writes it over the span of the file's purchases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q

from touchflow.core.bulk import Encoded, insert_many, insert_rows, maker, reserve_ids
from touchflow.customers import suppression
from touchflow.customers.actions import ContactInput, withhold
from touchflow.customers.models import ContactPoint, Customer, CustomerExternalId, Suppression
from touchflow.integrations.actor import Actor
from touchflow.stores.models import Store
from touchflow.timeline import events


@dataclass(frozen=True)
class NewCustomer:
    name: str
    country: str
    contacts: tuple[ContactInput, ...]


_new_customer = maker(
    Customer, "id", "name", "language", "time_zone", "country", "tags", "home_store_id",
    "created_at", "updated_at",
)
_new_contact = maker(ContactPoint, "customer_id", "kind", "network", "value", "created_at")


def create_many(
    store: Store, actor: Actor, at: datetime, new: Sequence[NewCustomer],
    encoded: Encoded | None = None,
) -> tuple[list[Customer], list[events.BulkRow]]:
    """Write ``new`` as customers of ``store`` with their contact points; returns the
    customers (in ``new``'s order) and their timeline rows, for the caller to write in
    its own insert (``events.insert_values``)."""
    customers = [
        _new_customer(pk, n.name.strip()[:200], store.language, store.time_zone, n.country,
                      [], store.pk, at, at)
        for n, pk in zip(new, reserve_ids(Customer, len(new)), strict=True)
    ]
    insert_rows(customers, with_pk=True, encoded=encoded)
    points = [
        _new_contact(customer.pk, c.kind, c.network, c.value, at)
        for customer, n in zip(customers, new, strict=True)
        for c in n.contacts
    ]
    insert_rows(points, encoded=encoded)
    _withhold_suppressed(points, at)
    rows = [events.customer_created_values(c, actor) for c in customers]
    rows.extend(events.contact_added_values(p, actor) for p in points)
    return customers, rows


def add_external_ids(rows: Sequence[tuple[int, int, str]]) -> None:
    """(customer id, store id, value) rows: the customers' ids in the store's system."""
    insert_many(CustomerExternalId._meta.db_table, ("customer_id", "store_id", "value"), rows)


def _withhold_suppressed(points: Sequence[ContactPoint], at: datetime) -> None:
    """Rare: only the few suppressed points are read back with their ids; and with the
    suppression list empty (the usual case) no contact is hashed at all: the keyed hash
    of every point cost more than writing its row."""
    if not points or not Suppression.objects.exists():
        return
    listed = suppression.suppressed(points)
    if not listed:
        return
    match = Q()
    for point in listed:
        match |= Q(kind=point.kind, network=point.network, value=point.value)
    withhold(list(ContactPoint.objects.filter(match)), at)
