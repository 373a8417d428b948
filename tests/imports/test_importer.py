"""The bulk purchase importer: grouping, skips, bad rows, idempotency, existing customers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine

from touchflow.customers.actions import ContactInput
from touchflow.customers.models import ContactPoint, Customer, CustomerStore
from touchflow.funnel.customers import resolve_customer
from touchflow.funnel.importer import ImportOptions, import_purchases
from touchflow.integrations.actor import Actor
from touchflow.purchases.import_mapping import MappingError, build_mapping
from touchflow.purchases.import_report import BadRow, HeldBack, ImportReport, SkipCount
from touchflow.purchases.models import Purchase
from touchflow.stores.models import Store
from touchflow.timeline.models import TimelineEvent

from .conftest import HEADER, table_counts

WriteCsv = Callable[..., Path]


def run(path: Path | list[str], store: Store, **columns: str) -> ImportReport:
    return import_purchases(path, build_mapping(columns), ImportOptions(store=store))


def test_lines_group_into_one_purchase_per_invoice_with_exact_amounts(
    uk_store: Store, write_csv: WriteCsv
) -> None:
    path = write_csv(
        HEADER
        + "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850.0,"
        "United Kingdom\n"
        "536366,22633,\"HAND WARMER, UNION JACK\",6,2010-12-01 08:28:00,1.85,17850.0,"
        "United Kingdom\n"
        "536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:27:00,3.39,17850.0,United Kingdom\n"
        "553000,84879,ASSORTED COLOUR BIRD ORNAMENT,32,2011-06-01 10:00:00,1.695,13047.0,"
        "France\n"
    )
    report = run(path, uk_store)

    assert (report.rows_read, report.lines_imported, report.invoices_imported) == (4, 4, 3)
    assert (report.customers_created, report.customers_existing) == (2, 0)
    assert (report.bad_rows, report.held_back) == ([], [])
    first = Purchase.objects.get(external_id="536365")
    assert first.amount == Decimal("35.64")  # 6 × 2.55 + 6 × 3.39
    assert first.occurred_at == datetime(2010, 12, 1, 8, 26, tzinfo=UTC)  # the earliest line
    assert (first.currency, first.source, first.store_id) == ("GBP", "import", uk_store.pk)
    assert first.items == [
        {"sku": "85123A", "name": "WHITE HANGING HEART T-LIGHT HOLDER", "quantity": 6,
         "unit_price": "2.55"},
        {"sku": "71053", "name": "WHITE METAL LANTERN", "quantity": 6, "unit_price": "3.39"},
    ]
    assert Purchase.objects.get(external_id="536366").items[0]["name"] == "HAND WARMER, UNION JACK"
    summer = Purchase.objects.get(external_id="553000")
    assert summer.amount == Decimal("54.24")  # 32 × 1.695 = 54.24 exactly
    assert summer.occurred_at == datetime(2011, 6, 1, 9, 0, tzinfo=UTC)  # BST is UTC+1
    customer = Customer.objects.get(external_ids__value="17850")
    assert (customer.country, customer.home_store_id) == ("United Kingdom", uk_store.pk)
    assert sorted(customer.purchases.values_list("external_id", flat=True)) == ["536365", "536366"]
    assert Customer.objects.get(external_ids__value="13047").country == "France"
    link = CustomerStore.objects.get(customer=customer, store=uk_store)
    assert (link.first_seen_at, link.last_seen_at) == (
        datetime(2010, 12, 1, 8, 26, tzinfo=UTC), datetime(2010, 12, 1, 8, 28, tzinfo=UTC))
    assert list(customer.timeline.values_list("kind", "purchase__external_id")) == [
        ("purchase", "536365"), ("purchase", "536366"), ("customer_created", None)]


@pytest.mark.parametrize("name", ["retail.csv.gz", "retail-without-suffix"])
def test_a_gzipped_file_is_read_by_its_suffix_or_its_magic_bytes(
    uk_store: Store, write_csv: WriteCsv, name: str
) -> None:
    path = write_csv(HEADER + "536365,85123A,HEART,6,2010-12-01 08:26:00,2.55,17850.0,UK\n",
                     name=name, gz=True)
    report = run(path, uk_store)
    assert report.invoices_imported == 1
    assert Purchase.objects.get().amount == Decimal("15.30")


def test_cancellations_and_lines_without_a_customer_are_counted_not_lost(
    uk_store: Store, write_csv: WriteCsv
) -> None:
    path = write_csv(
        HEADER
        + "536365,85123A,HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n"
        "C536379,D,Discount,-1,2010-12-01 09:41:00,27.50,14527.0,United Kingdom\n"
        "C536383,35004C,SET OF 3,-1,2010-12-01 09:49:00,4.65,15311.0,United Kingdom\n"
        "C536383,35004D,SET OF 4,-2,2010-12-01 09:49:00,4.65,15311.0,United Kingdom\n"
        "536414,22139,RETROSPOT TEA SET,56,2010-12-01 11:52:00,0.00,,United Kingdom\n"
        "536544,21773,DECORATIVE ROSE,1,2010-12-01 14:32:00,2.51,,United Kingdom\n"
        "536544,21774,DECORATIVE CATS,2,2010-12-01 14:32:00,not-a-price,,United Kingdom\n"
    )
    report = run(path, uk_store)

    assert report.skipped == {
        "cancelled": SkipCount(lines=3, invoices=2),
        "no_customer": SkipCount(lines=3, invoices=2),
        "already_imported": SkipCount(lines=0, invoices=0),
    }
    # A line that is skipped anyway is not parsed, so its bad price is no bad row.
    assert (report.rows_read, report.invoices_imported, report.bad_rows) == (7, 1, [])
    assert list(Purchase.objects.values_list("external_id", flat=True)) == ["536365"]
    assert list(Customer.objects.values_list("external_ids__value", flat=True)) == ["17850"]


def test_bad_rows_are_reported_by_physical_line_while_good_invoices_import(
    uk_store: Store, write_csv: WriteCsv
) -> None:
    path = write_csv(
        HEADER  # line 1
        + "536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n"
        "536365,71053,\"WHITE METAL\nLANTERN\",6,2010-12-01 08:26:00,3.39,17850.0,UK\n"  # 3-4
        "536370,22728,ALARM CLOCK,twelve,2010-12-01 08:45:00,3.75,12583.0,France\n"  # 5
        "536370,22727,ALARM CLOCK RED,24,2010-12-01 08:45:00,3.75,12583.0,France\n"  # 6
        ",22726,ALARM CLOCK GREEN,24,2010-12-01 08:45:00,3.75,12583.0,France\n"  # 7
        "536371,22086,PAPER CHAIN,80,01/12/2010 09:00,2.55,13748.0,United Kingdom\n"  # 8
        "536372,22632,HAND WARMER,6,2010-12-01 09:01:00,1.85,17850.0\n"  # 9
        "536373,21754,HOME BUILDING BLOCK WORD,3,2010-12-01 09:02:00,5.95,13047.0,UK\n"  # 10
    )
    report = run(path, uk_store)

    assert report.bad_rows == [
        BadRow(5, "Not a number: 'twelve'.", "Quantity", "536370"),
        BadRow(7, "The invoice number is missing.", "InvoiceNo", ""),
        BadRow(8, "Not a date (YYYY-MM-DD HH:MM:SS): '01/12/2010 09:00'.", "InvoiceDate",
               "536371"),
        BadRow(9, "Expected 8 columns, found 7.", "", "536372"),
    ]
    assert report.held_back == [
        HeldBack("536370", "line 5 could not be read", (5, 6)),
        HeldBack("536371", "line 8 could not be read", (8,)),
        HeldBack("536372", "line 9 could not be read", (9,)),
    ]
    assert (report.rows_read, report.invoices_imported, report.lines_imported) == (8, 2, 3)
    assert dict(Purchase.objects.values_list("external_id", "amount")) == {
        "536365": Decimal("35.64"), "536373": Decimal("17.85")}
    assert Purchase.objects.get(external_id="536365").items[1]["name"] == "WHITE METAL\nLANTERN"
    # No half invoice, and no customer whose only invoice was held back.
    assert sorted(Customer.objects.values_list("external_ids__value", flat=True)) == [
        "13047", "17850"]


def test_an_invoice_with_lines_without_a_customer_is_held_back_whole(
    uk_store: Store, write_csv: WriteCsv
) -> None:
    path = write_csv(
        HEADER
        + "536365,85123A,HEART,6,2010-12-01 08:26:00,2.55,17850.0,UK\n"
        "536365,71053,LANTERN,6,2010-12-01 08:26:00,3.39,,UK\n"
    )
    report = run(path, uk_store)
    assert report.held_back == [HeldBack("536365", "1 of its lines have no customer id", (2,))]
    assert report.skipped["no_customer"] == SkipCount(lines=1, invoices=0)
    assert (Purchase.objects.count(), Customer.objects.count()) == (0, 0)


def test_importing_the_same_file_twice_changes_nothing(
    uk_store: Store, write_csv: WriteCsv
) -> None:
    path = write_csv(
        HEADER
        + "536365,85123A,HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n"
        "536366,22633,HAND WARMER,6,2010-12-01 08:28:00,1.85,17850.0,United Kingdom\n"
        "536367,84879,BIRD ORNAMENT,32,2010-12-01 08:34:00,1.69,13047.0,United Kingdom\n"
        "536368,bad,BIRD ORNAMENT,x,2010-12-01 08:34:00,1.69,13047.0,United Kingdom\n"
        "C536379,D,Discount,-1,2010-12-01 09:41:00,27.50,14527.0,United Kingdom\n",
        name="retail.csv.gz", gz=True,
    )
    first = run(path, uk_store)
    assert (first.invoices_imported, first.customers_created) == (3, 2)
    before = table_counts()

    second = run(path, uk_store)

    assert table_counts() == before
    assert (second.invoices_imported, second.lines_imported) == (0, 0)
    assert (second.customers_created, second.customers_existing) == (0, 2)
    assert second.skipped["already_imported"] == SkipCount(lines=3, invoices=3)
    assert second.bad_rows == first.bad_rows == [
        BadRow(5, "Not a number: 'x'.", "Quantity", "536368")]


def test_existing_customers_are_found_by_external_id_phone_or_email(
    uk_store: Store, write_csv: WriteCsv
) -> None:
    existing, _ = resolve_customer(store=uk_store, actor=Actor(source="api"),
                                   contacts=[ContactInput("phone", "+442079460018")])
    known, _ = resolve_customer(store=uk_store, actor=Actor(source="api"), external_id="C-7")
    path = write_csv(
        "Order,Client,Phone,E-mail,Date,Total,Item\n"
        "A-1,,020 7946 0018,,2024-03-01 10:00,19.99,Mug\n"
        "A-2,C-9,+44 20 7946 0018,,2024-03-02 10:00,5.00,Spoon\n"
        "A-3,C-7,,,2024-03-03 10:00,7.50,Plate\n"
        "A-4,,,New@Example.com,2024-03-04 10:00,1.00,Card\n"
        "A-5,,,,2024-03-05 10:00,2.00,Nobody\n"
    )
    report = import_purchases(path, build_mapping({
        "invoice": "Order", "customer_id": "Client", "phone": "Phone", "email": "E-mail",
        "occurred_at": "Date", "amount": "Total", "description": "Item"}),
        ImportOptions(store=uk_store))

    assert (report.invoices_imported, report.customers_created, report.customers_existing) == (
        4, 1, 2)
    assert report.skipped["no_customer"] == SkipCount(lines=1, invoices=1)
    by_invoice = dict(Purchase.objects.values_list("external_id", "customer_id"))
    assert by_invoice["A-1"] == by_invoice["A-2"] == existing.pk
    assert by_invoice["A-3"] == known.pk
    existing.refresh_from_db()
    assert existing.external_id_in(uk_store.pk) == "C-9"  # its id in this store, now
    new = Customer.objects.get(pk=by_invoice["A-4"])
    assert list(new.contacts.values_list("kind", "value")) == [("email", "new@example.com")]
    assert ContactPoint.objects.filter(value="+442079460018").count() == 1
    assert list(new.timeline.values_list("kind", flat=True)) == [
        "purchase", "customer_created", "contact_added"]
    assert Purchase.objects.get(external_id="A-1").items == [
        {"sku": "", "name": "Mug", "quantity": 1, "unit_price": "19.99"}]


def test_two_new_ids_with_one_phone_become_one_customer(uk_store: Store) -> None:
    lines = [
        "Order,Client,Phone,Date,Total\n",
        "A-1,C-1,+44 7911 123456,2024-03-01 10:00,1.00\n",
        "A-2,C-2,07911 123456,2024-03-02 10:00,2.00\n",
        "A-3,C-3,07700 900123,2024-03-02 10:00,2.00\n",
    ]
    mapping = build_mapping({"invoice": "Order", "customer_id": "Client", "phone": "Phone",
                             "occurred_at": "Date", "amount": "Total"})
    report = import_purchases(lines, mapping, ImportOptions(store=uk_store, batch_size=1))
    assert (report.invoices_imported, report.customers_created) == (2, 1)
    assert report.bad_rows == [BadRow(
        4, "'07700 900123' is not a valid phone number for its country.", "Phone", "A-3")]
    # The second id sharing the phone is that customer's id in the store too.
    assert set(Purchase.objects.values_list("customer__external_ids__value", flat=True)) == {
        "C-1", "C-2"}
    before = table_counts()
    assert import_purchases(lines, mapping, ImportOptions(store=uk_store)).invoices_imported == 0
    assert table_counts() == before


def test_a_mapping_with_an_unknown_column_fails_before_any_import(
    uk_store: Store, write_csv: WriteCsv
) -> None:
    path = write_csv(HEADER + "536365,85123A,HEART,6,2010-12-01 08:26:00,2.55,17850.0,UK\n")
    before = table_counts()
    with pytest.raises(MappingError, match="Unknown column in the mapping: invoice='Invoice No'"):
        run(path, uk_store, invoice="Invoice No")
    with pytest.raises(MappingError, match="Unknown field 'colour'"):
        run(path, uk_store, colour="Colour")
    with pytest.raises(MappingError, match=r"no column for: amount \(or quantity and unit_p"):
        run(path, uk_store, quantity="")
    assert table_counts() == before


def test_dates_follow_the_format_and_time_zone_given(uk_store: Store) -> None:
    lines = [HEADER, "1,S,Thing,2,01/07/2011 10:00,1.25,5.0,Poland\n"]
    report = import_purchases(lines, build_mapping(), ImportOptions(
        store=uk_store, date_format="%d/%m/%Y %H:%M", time_zone="Europe/Warsaw", currency="pln"))
    assert report.invoices_imported == 1
    purchase = Purchase.objects.get()
    assert purchase.occurred_at == datetime(2011, 7, 1, 8, 0, tzinfo=UTC)  # CEST is UTC+2
    assert (purchase.amount, purchase.currency, purchase.customer.external_id_in(uk_store.pk)) == (
        Decimal("2.50"), "PLN", "5")
    assert TimelineEvent.objects.filter(purchase=purchase).count() == 1


def test_store_links_span_every_purchase_across_batches_and_widen_existing_ones(
    uk_store: Store, write_csv: WriteCsv
) -> None:
    with time_machine.travel(datetime(2011, 2, 1, 12, tzinfo=UTC), tick=False):
        known, _ = resolve_customer(store=uk_store, actor=Actor(source="api"),
                                    external_id="13047")
    path = write_csv(
        HEADER
        + "1,A,Lamp,1,2011-01-05 10:00:00,1.00,17850.0,UK\n"
        "2,A,Lamp,1,2011-03-05 10:00:00,1.00,13047.0,UK\n"
        "3,A,Lamp,1,2010-12-24 10:00:00,1.00,17850.0,UK\n"
        "4,A,Lamp,1,2011-01-10 10:00:00,1.00,13047.0,UK\n"
    )
    report = import_purchases(path, build_mapping(), ImportOptions(store=uk_store,
                                                                   batch_size=1))
    assert (report.invoices_imported, report.customers_created) == (4, 1)
    spans = {c.customer.external_id_in(uk_store.pk): (c.first_seen_at, c.last_seen_at)
             for c in CustomerStore.objects.select_related("customer")}
    assert spans == {
        "17850": (datetime(2010, 12, 24, 10, tzinfo=UTC), datetime(2011, 1, 5, 10, tzinfo=UTC)),
        # Known since February; the file's purchases widen the link both ways.
        "13047": (datetime(2011, 1, 10, 10, tzinfo=UTC), datetime(2011, 3, 5, 10, tzinfo=UTC)),
    }
    assert CustomerStore.objects.filter(customer=known).count() == 1
