"""The importer's write phase: what already exists, then one transaction per batch.

Every row goes to the database through ``core.bulk.insert_many`` — ``COPY`` on
PostgreSQL, one prepared ``INSERT`` run with ``executemany`` on SQLite — instead of
``bulk_create``, whose per-value preparation cost more than the database's work
(decision 0010). Customers, purchases and contact points are model instances built
positionally (``maker``: the model's defaults stay the source of the other columns);
timeline rows are the plain values of ``timeline.events.*_values``. Customers, purchases
and store links take their ids from the database first, so their contacts, external
ids, timeline rows and enrolments can refer to them in the same batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from django.db import IntegrityError, connection, transaction

from touchflow.core import clock
from touchflow.core.bulk import Encoded, insert_many, insert_rows, maker, reserve_ids
from touchflow.core.errors import InvalidInput
from touchflow.customers import actions as customer_actions
from touchflow.customers import bulk as customer_bulk
from touchflow.customers.bulk import NewCustomer
from touchflow.customers.models import (
    ContactPoint,
    ContactPointStore,
    Customer,
    CustomerExternalId,
    CustomerStore,
)
from touchflow.funnel import enrollment
from touchflow.funnel.purchases import credited_many, record_purchase
from touchflow.integrations.actor import Actor
from touchflow.purchases.import_parse import CustomerDraft, InvoiceDraft
from touchflow.purchases.import_report import ALREADY_IMPORTED, BadRow, HeldBack, ImportReport
from touchflow.purchases.models import Purchase, PurchaseSource
from touchflow.stores.models import Store
from touchflow.timeline import events
from touchflow.visits.models import Visit

CHUNK = 1000  # ids per IN (...) lookup
T = TypeVar("T")


@dataclass
class Plan:
    """What the write phase works from; ``known`` maps a customer key to a live id."""

    store: Store
    currency: str
    batch_size: int
    customers: dict[str, CustomerDraft]
    known: dict[str, int] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    # Customer key → (first, last) purchase time in the file; customer id → the span its
    # store link has, with the link's id.
    spans: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)
    linked: dict[int, tuple[datetime, datetime, int]] = field(default_factory=dict)
    now: datetime = field(default_factory=clock.now)
    actor: Actor = field(default_factory=lambda: Actor.system(PurchaseSource.IMPORT))
    visit_column: str = "visit"  # the file's column of visit ids, for refused lines
    # Datetimes and item dicts as text, made once for every batch (``core.bulk``).
    encoded: Encoded = field(default_factory=Encoded)


def write(
    drafts: list[InvoiceDraft],
    plan: Plan,
    report: ImportReport,
    tell: Callable[[str, int, int], None],
) -> None:
    """Import every draft not imported before, one transaction per batch of invoices."""
    present = _existing_invoices(plan.store, [d.invoice for d in drafts])
    todo = [d for d in drafts if d.invoice not in present]
    already = report.skip(ALREADY_IMPORTED)
    already.invoices = len(drafts) - len(todo)
    already.lines = sum(d.lines for d in drafts if d.invoice in present)
    plan.known = _find_customers(plan.customers.values(), plan.store)
    todo = _check_visits(todo, plan, report)
    report.customers_existing = len(set(plan.known.values()))
    plan.aliases = _aliases(plan)
    plan.spans = _spans(todo)
    _fill_blanks(plan)
    tell("write", 0, len(todo))
    for done, batch in enumerate(_chunks(todo, plan.batch_size), start=1):
        _write_batch_retrying(batch, plan, report)
        tell("write", min(done * plan.batch_size, len(todo)), len(todo))


def _spans(drafts: Iterable[InvoiceDraft]) -> dict[str, tuple[datetime, datetime]]:
    spans: dict[str, tuple[datetime, datetime]] = {}
    for d in drafts:
        first, last = spans.get(d.customer_key, (d.occurred_at, d.occurred_at))
        spans[d.customer_key] = (min(first, d.occurred_at), max(last, d.occurred_at))
    return spans


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- what exists --------------------------------------------------------------------


def _existing_invoices(store: Store, invoices: Sequence[str]) -> set[str]:
    found: set[str] = set()
    if not Purchase.objects.filter(store=store, external_id__isnull=False).exists():
        return found  # a store's first import asks nothing more
    for chunk in _chunks(invoices, CHUNK):
        found.update(
            external_id
            for external_id in Purchase.objects.filter(
                store=store, external_id__in=chunk
            ).values_list("external_id", flat=True)
            if external_id is not None
        )
    return found


def _find_customers(drafts: Iterable[CustomerDraft], store: Store) -> dict[str, int]:
    """Customer key → live customer id, for the drafts that already exist.

    By the store's external ids first (one chunked query; another store's ids are
    another namespace); then, only for drafts whose phone or e-mail is already on file,
    by ``find_customer`` — so a file of new customers costs no per-customer query.
    """
    drafts = list(drafts)
    known: dict[str, int] = {}
    by_external = {d.external_id: d.key for d in drafts if d.external_id}
    if not CustomerExternalId.objects.filter(store=store).exists():
        by_external = {}  # the store's first import: none of its ids is known yet
    for chunk in _chunks(list(by_external), CHUNK):
        rows = CustomerExternalId.objects.filter(store=store, value__in=chunk).values_list(
            "value", "customer_id", "customer__merged_into_id"
        )
        for value, pk, merged_into in rows:
            if merged_into is not None:
                pk = customer_actions.resolve(Customer.objects.get(pk=pk)).pk
            known[by_external[value]] = pk
    on_file = _contacts_on_file(c for d in drafts if d.key not in known for c in d.contacts)
    for draft in drafts:
        if draft.key not in known and on_file.intersection(draft.contacts):
            matches = customer_actions.find_customer(draft.contacts)
            if matches:
                known[draft.key] = matches[0].pk
    return known


def _contacts_on_file(
    contacts: Iterable[customer_actions.ContactInput],
) -> set[customer_actions.ContactInput]:
    wanted: dict[tuple[str, str], set[str]] = {}
    for c in contacts:
        wanted.setdefault((c.kind, c.network), set()).add(c.value)
    found: set[customer_actions.ContactInput] = set()
    for (kind, network), values in wanted.items():
        for chunk in _chunks(sorted(values), CHUNK):
            rows = ContactPoint.objects.filter(kind=kind, network=network, value__in=chunk)
            found.update(
                customer_actions.ContactInput(kind, v, network)
                for v in rows.values_list("value", flat=True)
            )
    return found


def _aliases(plan: Plan) -> dict[str, str]:
    """New customer key → the key of the first new customer with one of the same contacts.

    One phone or e-mail is one person, so two ids in the file sharing a contact become
    one customer (the first one met), as they would at the counter.
    """
    owners: dict[customer_actions.ContactInput, str] = {}
    aliases: dict[str, str] = {}
    for key, draft in plan.customers.items():
        if key in plan.known or not draft.contacts:
            continue
        owner = next((owners[c] for c in draft.contacts if c in owners), None)
        if owner is not None:
            aliases[key] = owner
        for c in draft.contacts:
            owners.setdefault(c, owner or key)
    return aliases


def _fill_blanks(plan: Plan) -> None:
    """Existing customers take the file's country where they have none, and the file's
    id as their id in this store where the store knew them by a contact only."""
    drafts = {k: d for k, d in plan.customers.items() if k in plan.known}
    by_customer = {plan.known[k]: d for k, d in drafts.items()}
    changed = []
    for chunk in _chunks(list(by_customer), CHUNK):
        for customer in Customer.objects.filter(pk__in=chunk):
            draft = by_customer[customer.pk]
            if draft.country and not customer.country:
                customer.country = draft.country
                customer.updated_at = plan.now
                changed.append(customer)
    ids = {d.external_id: plan.known[k] for k, d in drafts.items() if d.external_id}
    present: set[str] = set()
    for values in _chunks(list(ids), CHUNK):
        present.update(
            CustomerExternalId.objects.filter(store=plan.store, value__in=values).values_list(
                "value", flat=True
            )
        )
    with transaction.atomic():
        Customer.objects.bulk_update(changed, ["country", "updated_at"], batch_size=CHUNK)
        customer_bulk.add_external_ids(
            [(pk, plan.store.pk, v) for v, pk in ids.items() if v not in present]
        )
        customer_actions.link_contacts(_points_news_to_store(drafts, plan), plan.store, plan.now)


def _points_news_to_store(drafts: dict[str, CustomerDraft], plan: Plan) -> list[ContactPoint]:
    """The existing customers' contact points that the file gives again and this store
    has not recorded yet: by the file, it records them now (decision 0008), so its staff
    see them. Only the customer's own points: a contact owned by someone else is not
    theirs to show."""
    wanted = {
        (plan.known[key], c.kind, c.network, c.value)
        for key, draft in drafts.items()
        for c in draft.contacts
    }
    owners = sorted({pk for pk, *_ in wanted})
    points: list[ContactPoint] = []
    for chunk in _chunks(owners, CHUNK):
        # Read lean: a re-import of the same store reads every point and writes nothing.
        mine = [
            p for p in ContactPoint.objects.filter(customer_id__in=chunk).only(
                "id", "customer_id", "kind", "network", "value", "created_at"
            )
            if (p.customer_id, p.kind, p.network, p.value) in wanted
        ]
        recorders: dict[int, set[int]] = {}
        for point_id, store_id in ContactPointStore.objects.filter(
            contact_point_id__in=[p.pk for p in mine]
        ).values_list("contact_point_id", "store_id"):
            recorders.setdefault(point_id, set()).add(store_id)
        homes = dict(
            Customer.objects.filter(pk__in=chunk).values_list("pk", "home_store_id")
        )
        points.extend(
            p for p in mine
            if plan.store.pk not in recorders.get(p.pk, {homes[p.customer_id]})
        )
    return points


# --- counter sales -----------------------------------------------------------------


def _check_visits(
    drafts: list[InvoiceDraft], plan: Plan, report: ImportReport
) -> list[InvoiceDraft]:
    """The drafts without a refused visit id. An invoice naming a visit completes that
    visit's sale, so the visit must be one of this store's (another store's visit reads
    as unknown: its existence is not this store's to learn), and the file's customer,
    when already known, must be the visit's. A customer the store does not know yet is
    the visit's customer: the till names the person the counter logged."""
    wanted = sorted({d.visit for d in drafts if d.visit is not None})
    if not wanted:
        return drafts
    visits: dict[int, int | None] = {}
    for chunk in _chunks(wanted, CHUNK):
        rows = Visit.objects.filter(pk__in=chunk, store=plan.store).values_list(
            "pk", "customer_id", "customer__merged_into_id"
        )
        for pk, customer_id, merged_into in rows:
            if merged_into is not None:
                customer_id = customer_actions.resolve(Customer.objects.get(pk=customer_id)).pk
            visits[pk] = customer_id
    kept = []
    for draft in drafts:
        if draft.visit is None:
            kept.append(draft)
            continue
        reason = _visit_refusal(draft, visits, plan)
        if reason:
            refuse(draft, reason, plan, report)
            continue
        owner = visits[draft.visit]
        if owner is not None and draft.customer_key not in plan.known:
            plan.known[draft.customer_key] = owner
        kept.append(draft)
    return kept


def _visit_refusal(draft: InvoiceDraft, visits: dict[int, int | None], plan: Plan) -> str:
    assert draft.visit is not None
    if draft.visit not in visits:
        return f"Visit {draft.visit} is not one of this store's visits."
    owner, known = visits[draft.visit], plan.known.get(draft.customer_key)
    if owner is not None and known is not None and owner != known:
        return f"Visit {draft.visit} was logged for another customer."
    return ""


def refuse(draft: InvoiceDraft, reason: str, plan: Plan, report: ImportReport) -> None:
    """Leave out an invoice for its visit id: each of its lines refused, with why."""
    report.bad_rows.extend(BadRow(n, reason, plan.visit_column, draft.invoice)
                           for n in draft.numbers)
    report.bad_rows.sort(key=lambda b: b.line)
    report.held_back.append(HeldBack(draft.invoice, reason.rstrip("."), draft.numbers))
    report.held_back.sort(key=lambda h: h.lines[0])


def _complete_visit_sales(
    drafts: Sequence[InvoiceDraft], ids: dict[str, int], plan: Plan
) -> list[tuple[InvoiceDraft, str]]:
    """Record the invoices that carry a visit id through ``record_purchase``, the one
    owner of "the till completes a counter sale" (decision 0007): the visit's pending
    sale takes the amount, currency, items and invoice number, and enters no chain
    again. One call per such invoice (they are few). Returns the invoices refused."""
    refused = []
    for draft in drafts:
        assert draft.visit is not None
        try:
            record_purchase(
                store=plan.store,
                actor=plan.actor,
                customer=Customer.objects.get(pk=ids[draft.customer_key]),
                amount=draft.amount,
                currency=draft.currency or plan.currency,
                occurred_at=draft.occurred_at,
                categories=draft.categories,
                items=draft.items,
                visit=Visit.objects.get(pk=draft.visit),
                external_id=draft.invoice,
            )
        except InvalidInput as exc:
            refused.append((draft, f"Visit {draft.visit}: {exc.message}"))
    return refused


# --- one batch ----------------------------------------------------------------------


def _write_batch_retrying(batch: Sequence[InvoiceDraft], plan: Plan, report: ImportReport) -> None:
    """Write one batch; if another writer got in first, look again and retry once."""
    try:
        _write_batch(batch, plan, report)
    except IntegrityError:
        present = _existing_invoices(plan.store, [d.invoice for d in batch])
        report.skip(ALREADY_IMPORTED).invoices += len(present)
        batch = [d for d in batch if d.invoice not in present]
        keys = {d.customer_key for d in batch} - plan.known.keys()
        plan.known.update(_find_customers((plan.customers[k] for k in keys), plan.store))
        _write_batch(batch, plan, report)


def _write_batch(batch: Sequence[InvoiceDraft], plan: Plan, report: ImportReport) -> None:
    plain = [d for d in batch if d.visit is None]
    with transaction.atomic():
        created, rows, fresh = _create_customers(batch, plan)
        ids = {**plan.known, **created}
        linked = _link_store(batch, ids, plan, set(created.values()))
        purchase_ids = reserve_ids(Purchase, len(plain))
        purchases = [
            _purchase(d, pk, ids[d.customer_key], plan)
            for d, pk in zip(plain, purchase_ids, strict=True)
        ]
        insert_rows(purchases, with_pk=True, encoded=plan.encoded)
        credits = credited_many(plan.store, [(p.customer_id, p.occurred_at) for p in purchases])
        rows.extend(events.purchase_values(p, c) for p, c in zip(purchases, credits, strict=True))
        events.insert_values(rows, plan.encoded)
        enrollment.on_purchases_imported(purchases)
        refused = _complete_visit_sales([d for d in batch if d.visit is not None], ids, plan)
    # Only after the commit: a rolled-back batch must leave the plan and report as they were.
    plan.known.update(created)
    plan.linked.update(linked)
    for draft, reason in refused:
        refuse(draft, reason, plan, report)
    report.customers_created += fresh
    report.invoices_imported += len(batch) - len(refused)
    report.lines_imported += sum(d.lines for d in batch) - sum(d.lines for d, _ in refused)


def _create_customers(
    batch: Sequence[InvoiceDraft], plan: Plan
) -> tuple[dict[str, int], list[events.BulkRow], int]:
    """Create the batch's new customers with their contacts, their ids in this store and
    their timeline rows. Returns (key → id for every key of the batch that was new,
    the timeline rows to write, how many customers were created)."""
    owners: dict[str, str] = {}  # new key → the key of the customer it becomes
    for key in dict.fromkeys(d.customer_key for d in batch):
        if key not in plan.known:
            owners[key] = plan.aliases.get(key, key)
    new_keys = [k for k in dict.fromkeys(owners.values()) if k not in plan.known]
    made, rows = customer_bulk.create_many(
        plan.store, plan.actor, plan.now,
        [NewCustomer(d.name, d.country, d.contacts) for d in (plan.customers[k] for k in new_keys)],
        plan.encoded,
    )
    ids = {key: customer.pk for key, customer in zip(new_keys, made, strict=True)}
    created = {key: ids.get(owner) or plan.known[owner] for key, owner in owners.items()}
    customer_bulk.add_external_ids(
        [
            (created[key], plan.store.pk, external_id)
            for key in owners
            if (external_id := plan.customers[key].external_id)
        ]
    )
    return created, rows, len(made)


_new_purchase = maker(
    Purchase, "id", "customer_id", "store_id", "occurred_at", "amount", "currency",
    "categories", "items", "source", "external_id", "created_at",
)


def _link_store(
    batch: Sequence[InvoiceDraft], ids: dict[str, int], plan: Plan, fresh: set[int]
) -> dict[int, tuple[datetime, datetime, int]]:
    """Link each customer of the batch to the store over the span of all their purchases
    in the file: one row written per customer and import, not one per batch. Returns
    the links written, for the plan once the batch commits. ``fresh``: customers created
    in this batch, who have no link yet."""
    wanted: dict[int, tuple[datetime, datetime]] = {}
    for key in dict.fromkeys(d.customer_key for d in batch):
        pk = ids[key]
        first, last = plan.spans[key]
        if pk in wanted:
            first, last = min(first, wanted[pk][0]), max(last, wanted[pk][1])
        wanted[pk] = (first, last)
    linked = {pk: plan.linked[pk] for pk in wanted if pk in plan.linked}
    for chunk in _chunks([pk for pk in wanted if pk not in linked and pk not in fresh], CHUNK):
        rows = CustomerStore.objects.filter(store=plan.store, customer_id__in=chunk)
        for pk, first, last, link_id in rows.values_list(
            "customer_id", "first_seen_at", "last_seen_at", "pk"
        ):
            linked[pk] = (first, last, link_id)
    new = [pk for pk in wanted if pk not in linked]
    written = {
        pk: (*wanted[pk], link_id)
        for pk, link_id in zip(new, reserve_ids(CustomerStore, len(new)), strict=True)
    }
    names = _names_given(batch, ids, plan, fresh)
    insert_many(
        CustomerStore._meta.db_table,
        ("id", "customer_id", "store_id", "first_seen_at", "last_seen_at", "name"),
        [(link_id, pk, plan.store.pk, first, last, names.get(pk))
         for pk, (first, last, link_id) in written.items()],
        datetime_columns=("first_seen_at", "last_seen_at"),
        encoded=plan.encoded,
    )
    for pk, (seen_first, seen_last, link_id) in linked.items():
        first, last = wanted[pk]
        if first < seen_first or last > seen_last:
            written[pk] = (min(first, seen_first), max(last, seen_last), link_id)
    _widen_links([span for pk, span in written.items() if pk in linked])
    return written


def _names_given(
    batch: Sequence[InvoiceDraft], ids: dict[str, int], plan: Plan, fresh: set[int]
) -> dict[int, str]:
    """Customer id → the name the file gives a customer who existed before the import:
    the name this store knows them by (decision 0008). A customer the import creates
    has the file's name as their own, which a link without a name stands for."""
    names: dict[int, str] = {}
    for key in dict.fromkeys(d.customer_key for d in batch):
        pk = ids[key]
        name = plan.customers[key].name.strip()
        if pk not in fresh and name:
            names.setdefault(pk, name)
    return names


def _widen_links(rows: Sequence[tuple[datetime, datetime, int]]) -> None:
    if not rows:
        return
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {CustomerStore._meta.db_table} SET first_seen_at = %s, last_seen_at = %s "
            "WHERE id = %s",
            [(adapt(first), adapt(last), link_id) for first, last, link_id in rows],
        )


def _purchase(draft: InvoiceDraft, pk: int, customer_id: int, plan: Plan) -> Purchase:
    purchase = _new_purchase(
        pk, customer_id, plan.store.pk, draft.occurred_at, draft.amount,
        draft.currency or plan.currency, draft.categories, draft.items, PurchaseSource.IMPORT,
        draft.invoice, plan.now,
    )
    Purchase.store.field.set_cached_value(purchase, plan.store)  # the enrolment reads it
    return purchase
