"""What the importer's shortcuts for repeated values must not change: a line's cells that
earlier lines repeat are read once (customer cells, dates, goods), texts are encoded once
for every batch, and rows are built without Django's per-field path. Each test states
what a user or the database sees, which the shortcuts must keep exactly."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Model, signals

from touchflow.core import bulk
from touchflow.core.bulk import Encoded
from touchflow.customers.models import ContactPoint, Customer
from touchflow.funnel.importer import ImportOptions, import_purchases
from touchflow.purchases.import_mapping import build_mapping
from touchflow.purchases.import_report import BadRow
from touchflow.purchases.models import Purchase
from touchflow.stores.models import Store
from touchflow.timeline.models import TimelineEvent

from ..conftest import FIXED_NOW

WriteCsv = Callable[..., Path]
HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Email\n"
LONG_ID = "9" * 101


def test_lines_repeating_customer_cells_keep_their_errors_in_reading_order(
    uk_store: Store, write_csv: WriteCsv
) -> None:
    # A line's cells are read in this order: customer id, date, amounts, contacts. Lines
    # repeating a bad cell (read once, remembered) still report the first bad cell of
    # their own, as the first line that carried it did.
    path = write_csv(
        HEADER
        + "1,A,Pen,2,2011-01-03 10:00:00,1.50,7.0,bad-address\n"  # 2: e-mail
        "2,A,Pen,two,2011-01-03 10:00:00,1.50,7.0,bad-address\n"  # 3: quantity first
        "3,A,Pen,2,2011-01-03 10:00:00,1.50,7.0,bad-address\n"  # 4: e-mail again
        f"4,A,Pen,2,someday,1.50,{LONG_ID},a@example.com\n"  # 5: customer id first
        f"5,A,Pen,2,2011-01-03 10:00:00,1.50,{LONG_ID},a@example.com\n"  # 6: customer id
        "6,A,Pen,two,someday,1.50,8.0,b@example.com\n"  # 7: date before quantity
        "7,A,Pen,two,2011-01-03 10:00:00,1.50,8.0,b@example.com\n"  # 8: quantity
        "8,A,Pen,2,2011-01-03 10:00:00,1.50,8.0,b@example.com\n"  # 9: good
    )
    report = import_purchases(path, build_mapping({"email": "Email"}),
                              ImportOptions(store=uk_store))

    email = "An email address must have an @-sign."
    assert [(b.line, b.column, b.message) for b in report.bad_rows] == [
        (2, "Email", email),
        (3, "Quantity", "Not a number: 'two'."),
        (4, "Email", email),
        (5, "CustomerID", "The customer id is longer than 100 characters."),
        (6, "CustomerID", "The customer id is longer than 100 characters."),
        (7, "InvoiceDate", "Not a date (YYYY-MM-DD HH:MM:SS): 'someday'."),
        (8, "Quantity", "Not a number: 'two'."),
    ]
    assert list(Purchase.objects.values_list("external_id", "amount")) == [
        ("8", Decimal("3.00"))]


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago", "Europe/London"])
def test_a_date_is_in_the_future_by_the_stores_own_clock(
    make_store: Callable[..., Store], zone: str
) -> None:
    # Old dates skip the exact comparison with now; those near now keep it, whatever the
    # zone's offset (UTC+14 and UTC-11 at the ends).
    store = make_store(time_zone=zone, country="GB", currency="GBP")
    local = FIXED_NOW.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    soon, later = local + timedelta(minutes=5), local + timedelta(minutes=20)
    lines = [
        HEADER,
        f"1,A,Pen,1,{soon:%Y-%m-%d %H:%M:%S},1.00,1.0,\n",
        f"2,A,Pen,1,{later:%Y-%m-%d %H:%M:%S},1.00,1.0,\n",
        f"3,A,Pen,1,{local - timedelta(days=3):%Y-%m-%d %H:%M:%S},1.00,1.0,\n",
    ]
    report = import_purchases(lines, build_mapping(), ImportOptions(store=store))

    assert report.bad_rows == [
        BadRow(3, f"The date '{later:%Y-%m-%d %H:%M:%S}' is in the future.", "InvoiceDate", "2")
    ]
    assert sorted(Purchase.objects.values_list("external_id", flat=True)) == ["1", "3"]


def test_items_and_times_shared_across_batches_are_written_the_same(
    uk_store: Store, write_csv: WriteCsv
) -> None:
    # One invoice a batch: the second and third batches reuse the first one's item dict
    # and purchase time as text.
    path = write_csv(
        HEADER
        + "1,A,Pen,2,2011-01-03 10:00:00,1.50,7.0,\n"
        "2,A,Pen,2,2011-01-03 10:00:00,1.50,8.0,\n"
        "3,A,Pen,2,2011-01-03 10:00:00,1.50,7.0,\n"
        "3,B,Ink,1,2011-01-03 10:00:00,4.00,7.0,\n"
    )
    report = import_purchases(path, build_mapping(), ImportOptions(store=uk_store, batch_size=1))

    assert report.invoices_imported == 3
    pen = {"sku": "A", "name": "Pen", "quantity": 2, "unit_price": "1.50"}
    ink = {"sku": "B", "name": "Ink", "quantity": 1, "unit_price": "4.00"}
    at = datetime(2011, 1, 3, 10, tzinfo=UTC)
    assert list(Purchase.objects.order_by("external_id").values_list(
        "external_id", "items", "occurred_at")) == [
        ("1", [pen], at), ("2", [pen], at), ("3", [pen, ink], at)]
    assert sorted(TimelineEvent.objects.filter(kind="purchase").values_list("at", flat=True)) == [
        at, at, at]


def test_encoded_keeps_each_element_object_with_its_text() -> None:
    # Held by identity, the object stays referenced: its id cannot pass to another one.
    item = {"sku": "A"}
    encoded = Encoded()
    bulk._prepare([(1, [item, item])], ["id", "items"], ["items"], [], encoded)
    assert list(encoded.elements.values()) == [(item, '{"sku": "A"}')]


@pytest.mark.parametrize(("model", "names", "values"), [
    (Purchase, ("id", "customer_id", "store_id", "occurred_at", "amount", "items"),
     (5, 7, 3, FIXED_NOW, Decimal("1.50"), [{"sku": "A"}])),
    (Customer, ("id", "name", "home_store_id", "created_at"), (9, "Ann", 3, FIXED_NOW)),
    (ContactPoint, ("customer_id", "kind", "network", "value", "created_at"),
     (9, "email", "", "a@example.com", FIXED_NOW)),
])
def test_rows_are_built_as_the_models_own_constructor_builds_them(
    model: type[Model], names: tuple[str, ...], values: tuple[Any, ...]
) -> None:
    made = bulk.maker(model, *names)(*values)
    expected = model(**dict(zip(names, values, strict=True)))

    assert _fields(made) == _fields(expected)
    assert (made._state.adding, made._state.db) == (True, None)
    assert made._state is not bulk.maker(model, *names)(*values)._state


@pytest.fixture
def post_init_seen() -> Iterator[list[Model]]:
    seen: list[Model] = []

    def receiver(sender: type[Model], instance: Model, **kwargs: Any) -> None:
        seen.append(instance)

    signals.post_init.connect(receiver, sender=Customer)
    yield seen
    signals.post_init.disconnect(receiver, sender=Customer)


def test_rows_of_a_model_with_init_receivers_go_through_its_constructor(
    post_init_seen: list[Model],
) -> None:
    made = bulk.maker(Customer, "id", "name")(9, "Ann")
    assert post_init_seen == [made]
    assert (made.pk, made.name, made.language) == (9, "Ann", "en")


def _fields(obj: Model) -> dict[str, Any]:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}
