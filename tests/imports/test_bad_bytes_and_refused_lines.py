"""Bad input loses nothing good: an unreadable byte spoils only its line, other
encodings import with --encoding, and every line not imported is listed with why."""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from touchflow.cli import build_app
from touchflow.customers.models import Customer
from touchflow.funnel.importer import ImportOptions, UnusableInput, import_purchases
from touchflow.purchases.import_mapping import MappingError, build_mapping
from touchflow.purchases.import_report import BadRow, HeldBack
from touchflow.purchases.models import Purchase
from touchflow.stores.models import Store

from .conftest import HEADER, table_counts

WriteBytes = Callable[[bytes, str], Path]
runner = CliRunner()
SIMPLE = {"customer_id": "Client", "occurred_at": "Date", "amount": "Total",
          "description": "Item", "invoice": ""}


@pytest.fixture
def write_bytes(tmp_path: Path) -> WriteBytes:
    def write(data: bytes, name: str = "file.csv") -> Path:
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return write


def test_a_bad_byte_deep_in_the_file_is_one_bad_line_with_its_true_number(
    uk_store: Store, write_bytes: WriteBytes
) -> None:
    good = b"%d,S,Thing,1,2011-01-05 10:00:00,1.00,%d.0,United Kingdom\n"
    lines = [HEADER.encode()]
    lines += [good % (n % 10, n % 10) for n in range(2, 60_001)]  # lines 2 … 60,000
    lines.append(b"77,S,Caf\xe9 cr\xe8me,1,2011-01-05 10:00:00,1.00,7.0,United Kingdom\n")
    lines.append(good % (11, 11))  # line 60,002
    path = write_bytes(b"".join(lines), "retail.csv")

    report = import_purchases(path, build_mapping(), ImportOptions(store=uk_store))

    assert report.bad_rows == [BadRow(
        60_001, "Not valid utf-8 text: byte 0xE9 at position 9; if the file is in another "
        "encoding, give --encoding (e.g. cp1250, cp1251, latin-1).", "", "77")]
    assert report.held_back == [HeldBack("77", "line 60001 could not be read", (60_001,))]
    assert (report.rows_read, report.lines_imported, report.invoices_imported) == (
        60_001, 60_000, 11)
    assert not Purchase.objects.filter(external_id="77").exists()
    assert Purchase.objects.get(external_id="11").amount == Decimal("1.00")


def test_other_encodings_import_with_encoding(
    uk_store: Store, write_bytes: WriteBytes
) -> None:
    text = ("Client,Date,Total,Item,Name\n"
            "k1,2024-05-01 12:00,9.99,Чайник,Ольга\n"
            "k2,2024-05-01 13:00,5.00,Świeca,Łucja\n")
    cyrillic = write_bytes(text.splitlines(keepends=True)[0].encode()
                           + text.splitlines(keepends=True)[1].encode("cp1251"), "ru.csv")
    polish = write_bytes(text.splitlines(keepends=True)[0].encode()
                         + text.splitlines(keepends=True)[2].encode("cp1250"), "pl.csv")
    mapping = build_mapping({**SIMPLE, "name": "Name"})

    unread = import_purchases(cyrillic, mapping, ImportOptions(store=uk_store, invoice="line"))
    assert [b.line for b in unread.bad_rows] == [2]
    assert "give --encoding" in unread.bad_rows[0].message
    import_purchases(cyrillic, mapping, ImportOptions(store=uk_store, invoice="line",
                                                      encoding="cp1251"))
    import_purchases(polish, mapping, ImportOptions(store=uk_store, invoice="line",
                                                    encoding="CP1250"))

    assert sorted(Customer.objects.values_list("name", flat=True)) == ["Łucja", "Ольга"]
    assert sorted(p.items[0]["name"] for p in Purchase.objects.all()) == ["Świeca", "Чайник"]


def test_an_unknown_encoding_or_an_unreadable_header_imports_nothing(
    uk_store: Store, write_bytes: WriteBytes
) -> None:
    path = write_bytes(HEADER.encode() + b"1,S,T,1,2011-01-05 10:00:00,1.00,5.0,UK\n", "a.csv")
    before = table_counts()
    with pytest.raises(UnusableInput, match="--encoding: unknown encoding 'latin-9x'"):
        import_purchases(path, build_mapping(), ImportOptions(store=uk_store,
                                                              encoding="latin-9x"))
    header = write_bytes(b"Invoice\xff,Date\n1,2\n", "b.csv")
    with pytest.raises(UnusableInput, match=r"Line 1 \(the header\): Not valid utf-8 text"):
        import_purchases(header, build_mapping(), ImportOptions(store=uk_store))
    assert table_counts() == before


def test_each_line_as_its_own_purchase_imports_once(
    uk_store: Store, write_csv: Callable[..., Path]
) -> None:
    path = write_csv(
        "Client,Date,Total,Item\n"
        "k1,2024-05-01 12:00,9.99,Lamp\n"
        "k1,2024-05-01 12:00,9.99,Lamp\n"  # the same again: a second purchase
        "k1,2024-05-01 12:05,-3.00,Refund\n"
        "k2,2024-05-02 09:00,5.00,Mug\n"
    )
    mapping = build_mapping(SIMPLE)
    report = import_purchases(path, mapping, ImportOptions(store=uk_store, invoice="line"))

    assert (report.invoices_imported, report.lines_imported) == (3, 3)
    assert [(h.lines, h.reason) for h in report.held_back] == [
        ((4,), "its total -3.00 is negative")]
    assert sorted(Purchase.objects.values_list("amount", flat=True)) == [
        Decimal("5.00"), Decimal("9.99"), Decimal("9.99")]
    assert len(set(Purchase.objects.values_list("external_id", flat=True))) == 3
    before = table_counts()
    again = import_purchases(path, mapping, ImportOptions(store=uk_store, invoice="line"))
    assert (again.invoices_imported, again.skip("already_imported").invoices) == (0, 3)
    assert table_counts() == before


def test_each_customer_and_local_day_as_one_purchase(
    uk_store: Store, write_csv: Callable[..., Path]
) -> None:
    path = write_csv(
        "Client,Date,Total,Item\n"
        "k1,2024-07-01T09:00:00+00:00,10.00,Lamp\n"
        "k1,2024-07-01T22:59:00+00:00,5.00,Bulb\n"  # 23:59 in London: the same day
        "k1,2024-07-01T23:30:00+00:00,1.00,Card\n"  # 00:30 on 2 July in London
        "k2,2024-07-01T10:00:00+00:00,2.00,Mug\n"
    )
    report = import_purchases(path, build_mapping(SIMPLE),
                              ImportOptions(store=uk_store, invoice="customer-day"))

    assert (report.invoices_imported, report.lines_imported) == (3, 4)
    assert sorted(Purchase.objects.values_list("external_id", "amount", "occurred_at")) == [
        ("k1@2024-07-01", Decimal("15.00"), datetime(2024, 7, 1, 9, tzinfo=UTC)),
        ("k1@2024-07-02", Decimal("1.00"), datetime(2024, 7, 1, 23, 30, tzinfo=UTC)),
        ("k2@2024-07-01", Decimal("2.00"), datetime(2024, 7, 1, 10, tzinfo=UTC)),
    ]
    assert len(Purchase.objects.get(external_id="k1@2024-07-01").items) == 2


def test_a_file_without_an_invoice_column_asks_for_the_invoice_option(
    uk_store: Store, write_csv: Callable[..., Path]
) -> None:
    path = write_csv("Client,Date,Total,Item\nk1,2024-05-01 12:00,9.99,Lamp\n")
    with pytest.raises(MappingError, match=r"invoice \(or --invoice line or customer-day\)"):
        import_purchases(path, build_mapping(SIMPLE), ImportOptions(store=uk_store))


def test_every_line_not_imported_is_in_the_errors_file_with_its_reason(
    uk_store: Store, write_csv: Callable[..., Path], tmp_path: Path
) -> None:
    path = write_csv(
        "Order,Client,Date,Total,Currency\n"  # 1
        "A-1,k1,2024-05-01 12:00,9.99,GBP\n"  # 2: imported
        "A-2,k2,2024-05-01 12:00,-4.00,GBP\n"  # 3: negative
        "A-3,,2024-05-01 12:00,4.00,GBP\n"  # 4: no customer
        "A-4,k3,yesterday,4.00,GBP\n"  # 5: bad date
        "A-5,k4,2024-05-01 12:00,4.00,XQZ1\n"  # 6: not a currency
        "A-6,k5,2024-05-01 12:00,4.00,GBP\n"  # 7: held back with line 8
        "A-6,k5,2024-05-01 12:00,4.00,EUR\n"  # 8
        "A-7,k6,2024-05-01 12:00,4.00,eur\n"  # 9: imported in euros
    )
    errors = tmp_path / "errors.csv"
    result = runner.invoke(build_app(), [
        "import", "purchases", str(path), "--store", "uk", "--errors", str(errors),
        "--map", "invoice=Order", "--map", "customer_id=Client", "--map", "occurred_at=Date",
        "--map", "amount=Total", "--map", "currency=Currency"])

    assert result.exit_code == 0, result.output
    with errors.open() as f:
        rows = [(int(r["line"]), r["invoice"], r["column"], r["message"])
                for r in csv.DictReader(f)]
    assert rows == [
        (3, "A-2", "", "Not imported: its invoice is held back (its total -4.00 is negative)."),
        (4, "A-3", "Client", "No customer id, e-mail or phone: not imported."),
        (5, "A-4", "Date", "Not a date (YYYY-MM-DD HH:MM:SS): 'yesterday'."),
        (6, "A-5", "Currency",
         "Use an ISO 4217 currency code such as GBP. Found 'XQZ1'."),
        (7, "A-6", "", "Not imported: its invoice is held back (its lines are in different "
                       "currencies)."),
        (8, "A-6", "", "Not imported: its invoice is held back (its lines are in different "
                       "currencies)."),
    ]
    summary = next(ln for ln in result.output.splitlines() if "not imported (in" in ln)
    assert summary.split("│")[2].strip() == "6"
    assert sorted(Purchase.objects.values_list("external_id", "currency")) == [
        ("A-1", "GBP"), ("A-7", "EUR")]


def test_a_bad_line_holds_back_its_customers_day_and_nothing_else(
    uk_store: Store, write_csv: Callable[..., Path]
) -> None:
    path = write_csv(
        "Client,Date,Total,Item\n"
        "k1,2024-07-01 09:00,10.00,Lamp\n"
        "k1,2024-07-01 10:00,ten,Bulb\n"
        "k1,2024-07-02 10:00,1.00,Card\n"
    )
    report = import_purchases(path, build_mapping(SIMPLE),
                              ImportOptions(store=uk_store, invoice="customer-day"))
    assert report.held_back == [HeldBack("k1@2024-07-01", "line 3 could not be read", (2, 3))]
    assert list(Purchase.objects.values_list("external_id", flat=True)) == ["k1@2024-07-02"]


def test_the_help_documents_the_invoice_and_encoding_options() -> None:
    result = runner.invoke(build_app(), ["import", "purchases", "--help"],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for fragment in ("--invoice", "column|line|customer-day", "--encoding", "cp1251",
                     "--errors", "every line not imported"):
        assert fragment in text
