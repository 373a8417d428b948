"""Bulk import of purchase history from CSV: the whole file in set-shaped statements.

``import_purchases`` reads the file once (``import_parse``), then looks up what already
exists with chunked ``IN`` queries and writes new customers, their store links,
purchases and timeline rows with ``bulk_create``, one transaction per batch of
invoices. It is idempotent: purchases by (store, external id), customers by external
id or by a phone/e-mail they already own. This is the importer's own bulk path;
one-off writes go through ``touchflow.purchases.actions`` and
``touchflow.customers.actions``.
"""

from __future__ import annotations

import csv
import zoneinfo
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from django.db import IntegrityError, transaction

from touchflow.core import clock
from touchflow.core.actor import Actor
from touchflow.core.errors import InvalidInput
from touchflow.customers import actions as customer_actions
from touchflow.customers.models import ContactPoint, Customer, CustomerStore
from touchflow.flows import enrollment as flow_enrollment
from touchflow.privacy import suppression
from touchflow.purchases.actions import check_currency
from touchflow.purchases.import_mapping import ColumnMapping, MappingError
from touchflow.purchases.import_parse import (
    CustomerDraft,
    InvoiceDraft,
    ParseResult,
    ParseSettings,
    read_rows,
)
from touchflow.purchases.import_report import ALREADY_IMPORTED, ImportReport
from touchflow.purchases.import_source import open_source
from touchflow.purchases.models import Purchase, PurchaseSource
from touchflow.stores.models import Store
from touchflow.timeline import events

__all__ = ["ImportOptions", "UnusableInput", "import_purchases", "Progress"]

# Called as progress(phase, done, total): phase "read" counts bytes of the file,
# "write" counts invoices. total is 0 when unknown.
Progress = Callable[[str, int, int], None]
CHUNK = 1000  # ids per IN (...) lookup
T = TypeVar("T")


class UnusableInput(ValueError):
    """The file, its mapping or an option cannot be used; nothing was imported."""


@dataclass(frozen=True)
class ImportOptions:
    store: Store
    currency: str | None = None  # default: the store's currency
    time_zone: str | None = None  # for dates without an offset; default: the store's
    date_format: str | None = None  # strptime format; default: ISO 8601
    cancel_prefix: str = "C"
    batch_size: int = 1000  # invoices per transaction


@dataclass
class _Plan:
    """What the write phase works from; ``known`` maps a customer key to a live id."""

    options: ImportOptions
    currency: str
    customers: dict[str, CustomerDraft]
    known: dict[str, int] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    now: datetime = field(default_factory=clock.now)
    actor: Actor = field(default_factory=lambda: Actor.system(PurchaseSource.IMPORT))


def import_purchases(
    source: Path | str | Iterable[str],
    mapping: ColumnMapping,
    options: ImportOptions,
    progress: Progress | None = None,
) -> ImportReport:
    """Import the purchases in ``source`` (a path, or lines of CSV text) into ``options.store``.

    Raises UnusableInput (or MappingError) before writing anything when the file or the
    mapping cannot be used. Otherwise every good invoice imports, and the report says
    what was skipped and which rows were bad.
    """
    tell = progress or (lambda phase, done, total: None)
    currency = _currency(options)
    settings = ParseSettings(
        time_zone=_zone(options.time_zone or options.store.time_zone),
        date_format=options.date_format,
        region=options.store.country,
        now=clock.now(),
        cancel_prefix=options.cancel_prefix,
    )
    report = ImportReport()
    parsed = _read(source, mapping, settings, report, tell)
    plan = _Plan(options=options, currency=currency, customers=parsed.customers)
    _write(parsed.invoices, plan, report, tell)
    return report


def _currency(options: ImportOptions) -> str:
    try:
        return check_currency(options.currency or options.store.currency)
    except InvalidInput as exc:
        raise UnusableInput(f"--currency: {exc.message}") from exc


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise UnusableInput(f"--time-zone: unknown time zone {name!r}.") from None


def _read(
    source: Path | str | Iterable[str],
    mapping: ColumnMapping,
    settings: ParseSettings,
    report: ImportReport,
    tell: Progress,
) -> ParseResult:
    if not isinstance(source, (str, Path)):
        return _read_lines(source, mapping, settings, report, lambda: None)
    path = Path(source)
    if not path.is_file():
        raise UnusableInput(f"No such file: {path}.")
    with open_source(path) as src:
        result = _read_lines(
            src.text, mapping, settings, report, lambda: tell("read", src.position(), src.size)
        )
        tell("read", src.size, src.size)
        return result


def _read_lines(
    lines: Iterable[str],
    mapping: ColumnMapping,
    settings: ParseSettings,
    report: ImportReport,
    tick: Callable[[], None],
) -> ParseResult:
    reader = csv.reader(lines)
    try:
        header = next(reader, None)
        if not header:
            raise UnusableInput("The file is empty: there is no header line.")
        columns = mapping.resolve(header)
        return read_rows(reader, columns, header, settings, report, tick)
    except UnicodeDecodeError as exc:
        raise UnusableInput(
            f"The file is not UTF-8 text (after line {reader.line_num}): {exc.reason}."
        ) from exc
    except (OSError, EOFError) as exc:  # a truncated or corrupt gzip stream
        raise UnusableInput(f"The file cannot be read: {exc}.") from exc
    except MappingError:
        raise


# --- write phase ------------------------------------------------------------------


def _write(drafts: list[InvoiceDraft], plan: _Plan, report: ImportReport, tell: Progress) -> None:
    store = plan.options.store
    present = _existing_invoices(store, [d.invoice for d in drafts])
    todo = [d for d in drafts if d.invoice not in present]
    already = report.skip(ALREADY_IMPORTED)
    already.invoices = len(drafts) - len(todo)
    already.lines = sum(d.lines for d in drafts if d.invoice in present)
    plan.known = _find_customers(plan.customers.values())
    report.customers_existing = len(set(plan.known.values()))
    plan.aliases = _aliases(plan)
    _fill_blanks(plan)
    tell("write", 0, len(todo))
    for done, batch in enumerate(_chunks(todo, plan.options.batch_size), start=1):
        _write_batch_retrying(batch, plan, report)
        tell("write", min(done * plan.options.batch_size, len(todo)), len(todo))


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _existing_invoices(store: Store, invoices: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(invoices, CHUNK):
        found.update(
            external_id
            for external_id in Purchase.objects.filter(
                store=store, external_id__in=chunk
            ).values_list("external_id", flat=True)
            if external_id is not None
        )
    return found


def _find_customers(drafts: Iterable[CustomerDraft]) -> dict[str, int]:
    """Customer key → live customer id, for the drafts that already exist.

    By external id first (one chunked query); then, only for drafts whose phone or
    e-mail is already on file, by ``find_customer`` — so a file of new customers costs
    no per-customer query.
    """
    drafts = list(drafts)
    known: dict[str, int] = {}
    by_external = {d.external_id: d.key for d in drafts if d.external_id}
    for chunk in _chunks(list(by_external), CHUNK):
        rows = Customer.objects.filter(external_id__in=chunk).values_list(
            "external_id", "pk", "merged_into_id"
        )
        for external_id, pk, merged_into in rows:
            if external_id is None:
                continue
            if merged_into is not None:
                pk = customer_actions.resolve(Customer.objects.get(pk=pk)).pk
            known[by_external[external_id]] = pk
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


def _fill_blanks(plan: _Plan) -> None:
    """Existing customers take the file's external id and country where they have none."""
    drafts = {plan.known[k]: d for k, d in plan.customers.items() if k in plan.known}
    changed = []
    for chunk in _chunks(list(drafts), CHUNK):
        for customer in Customer.objects.filter(pk__in=chunk):
            draft = drafts[customer.pk]
            fields = []
            if draft.country and not customer.country:
                customer.country = draft.country
                fields.append("country")
            if draft.external_id and not customer.external_id:
                customer.external_id = draft.external_id
                fields.append("external_id")
            if fields:
                customer.updated_at = plan.now
                changed.append(customer)
    if changed:
        with transaction.atomic():
            Customer.objects.bulk_update(
                changed, ["country", "external_id", "updated_at"], batch_size=CHUNK
            )


def _write_batch_retrying(batch: Sequence[InvoiceDraft], plan: _Plan, report: ImportReport) -> None:
    """Write one batch; if another writer got in first, look again and retry once."""
    try:
        _write_batch(batch, plan, report)
    except IntegrityError:
        present = _existing_invoices(plan.options.store, [d.invoice for d in batch])
        report.skip(ALREADY_IMPORTED).invoices += len(present)
        batch = [d for d in batch if d.invoice not in present]
        keys = {d.customer_key for d in batch} - plan.known.keys()
        plan.known.update(_find_customers(plan.customers[k] for k in keys))
        _write_batch(batch, plan, report)


def _write_batch(batch: Sequence[InvoiceDraft], plan: _Plan, report: ImportReport) -> None:
    with transaction.atomic():
        created, rows, fresh = _create_customers(batch, plan)
        ids = {**plan.known, **created}
        _link_store(batch, ids, plan.options.store)
        purchases = [_purchase(d, ids[d.customer_key], plan) for d in batch]
        Purchase.objects.bulk_create(purchases, batch_size=CHUNK)
        rows.extend(events.purchase_row(p) for p in purchases)
        events.write_rows(rows)
        flow_enrollment.on_purchases_imported(purchases)
    # Only after the commit: a rolled-back batch must leave the plan as it was.
    plan.known.update(created)
    report.customers_created += fresh
    report.invoices_imported += len(batch)
    report.lines_imported += sum(d.lines for d in batch)


def _create_customers(
    batch: Sequence[InvoiceDraft], plan: _Plan
) -> tuple[dict[str, int], list[Any], int]:
    """Create the batch's new customers with their contacts and timeline rows."""
    store = plan.options.store
    new: dict[str, Customer] = {}
    aliases: dict[str, str] = {}
    for key in dict.fromkeys(d.customer_key for d in batch):
        if key in plan.known:
            continue
        owner = plan.aliases.get(key, key)
        aliases[key] = owner
        if owner in plan.known or owner in new:
            continue
        draft = plan.customers[owner]
        new[owner] = Customer(
            name=draft.name,
            language=store.language,
            time_zone=store.time_zone,
            country=draft.country,
            tags=[],
            external_id=draft.external_id,
            home_store=store,
            created_at=plan.now,
            updated_at=plan.now,
        )
    Customer.objects.bulk_create(list(new.values()), batch_size=CHUNK)
    points = [
        ContactPoint(
            customer=customer, kind=c.kind, network=c.network, value=c.value, created_at=plan.now
        )
        for key, customer in new.items()
        for c in plan.customers[key].contacts
    ]
    ContactPoint.objects.bulk_create(points, batch_size=CHUNK)
    rows: list[Any] = [events.customer_created_row(c, plan.actor) for c in new.values()]
    rows.extend(events.contact_added_row(p, plan.actor) for p in points)
    suppression.withhold(points, plan.now, rows)
    ids = {key: customer.pk for key, customer in new.items()}
    created = {
        key: ids[owner] if owner in ids else plan.known[owner] for key, owner in aliases.items()
    }
    created.update(ids)
    return created, rows, len(ids)


def _aliases(plan: _Plan) -> dict[str, str]:
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


def _link_store(batch: Sequence[InvoiceDraft], ids: dict[str, int], store: Store) -> None:
    """Each customer in the batch is linked to the store over the span of their purchases."""
    span: dict[int, tuple[datetime, datetime]] = {}
    for d in batch:
        pk = ids[d.customer_key]
        first, last = span.get(pk, (d.occurred_at, d.occurred_at))
        span[pk] = (min(first, d.occurred_at), max(last, d.occurred_at))
    links = CustomerStore.objects.filter(store=store, customer_id__in=list(span))
    widened = []
    for link in links:
        first, last = span.pop(link.customer_id)
        if first < link.first_seen_at or last > link.last_seen_at:
            link.first_seen_at = min(first, link.first_seen_at)
            link.last_seen_at = max(last, link.last_seen_at)
            widened.append(link)
    CustomerStore.objects.bulk_update(widened, ["first_seen_at", "last_seen_at"], batch_size=CHUNK)
    CustomerStore.objects.bulk_create(
        [
            CustomerStore(customer_id=pk, store=store, first_seen_at=first, last_seen_at=last)
            for pk, (first, last) in span.items()
        ],
        batch_size=CHUNK,
    )


def _purchase(draft: InvoiceDraft, customer_id: int, plan: _Plan) -> Purchase:
    return Purchase(
        customer_id=customer_id,
        store=plan.options.store,
        occurred_at=draft.occurred_at,
        amount=draft.amount,
        currency=plan.currency,
        categories=draft.categories,
        items=draft.items,
        source=PurchaseSource.IMPORT,
        external_id=draft.invoice,
        created_at=plan.now,
    )
