"""``touchflow import purchases`` as a user runs it (through Typer's runner, same database)."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from touchflow.cli import build_app
from touchflow.customers.models import Customer
from touchflow.purchases.models import Purchase
from touchflow.stores.models import Store

from .conftest import HEADER, table_counts

runner = CliRunner()
WriteCsv = Callable[..., Path]

ROWS = (
    HEADER
    + "536365,85123A,HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n"
    "536366,22633,HAND WARMER,six,2010-12-01 08:28:00,1.85,17850.0,United Kingdom\n"
    "C536379,D,Discount,-1,2010-12-01 09:41:00,27.50,14527.0,United Kingdom\n"
    "536414,22139,TEA SET,56,2010-12-01 11:52:00,0.00,,United Kingdom\n"
)


def test_import_prints_the_summary_and_writes_the_bad_rows_file(
    uk_store: Store, write_csv: WriteCsv, tmp_path: Path
) -> None:
    path = write_csv(ROWS, name="retail.csv.gz", gz=True)
    errors = tmp_path / "bad.csv"
    result = runner.invoke(build_app(), ["import", "purchases", str(path), "--store", "uk",
                                         "--errors", str(errors)])

    assert result.exit_code == 0, result.output
    for text in ("Import summary", "line 3 [Quantity]: Not a number: 'six'.",
                 "invoice 536366: line 3 could not be read", "cancellations"):
        assert text in result.output
    # Every line not imported, with why: the bad one, the cancellation, the line
    # without a customer.
    assert errors.read_text().splitlines() == [
        "line,invoice,column,message", "3,536366,Quantity,Not a number: 'six'.",
        "4,C536379,InvoiceNo,A cancellation (its invoice starts with 'C'): not imported.",
        "5,536414,CustomerID,\"No customer id, e-mail or phone: not imported.\""]
    assert list(Purchase.objects.values_list("external_id", "amount")) == [
        ("536365", Decimal("15.30"))]

    before = table_counts()
    again = runner.invoke(build_app(), ["import", "purchases", str(path), "--store", "uk"])
    assert again.exit_code == 0, again.output
    assert table_counts() == before


def test_a_mapping_file_and_map_options_name_the_columns(
    uk_store: Store, write_csv: WriteCsv, tmp_path: Path
) -> None:
    path = write_csv("Ref;Who;When;Sum\nr1;k1;2024-05-01 12:00;9.99\n".replace(";", ","))
    mapping = tmp_path / "shop.json"
    mapping.write_text(json.dumps({
        "columns": {"invoice": "Ref", "customer_id": "Who", "occurred_at": "When"},
        "currency": "EUR",
    }))
    result = runner.invoke(build_app(), ["import", "purchases", str(path), "--store", "uk",
                                         "--mapping", str(mapping), "--map", "amount=Sum"])
    assert result.exit_code == 0, result.output
    purchase = Purchase.objects.get()
    assert (purchase.external_id, purchase.amount, purchase.currency) == (
        "r1", Decimal("9.99"), "EUR")
    assert Customer.objects.get().external_id_in(uk_store.pk) == "k1"


def test_a_toml_mapping_file_works_too(uk_store: Store, write_csv: WriteCsv,
                                       tmp_path: Path) -> None:
    path = write_csv("Ref,Who,When,Sum\nr1,k1,2024-05-01 12:00,9.99\n")
    mapping = tmp_path / "shop.toml"
    mapping.write_text('invoice = "Ref"\ncustomer_id = "Who"\noccurred_at = "When"\n'
                       'amount = "Sum"\n')
    result = runner.invoke(build_app(), ["import", "purchases", str(path), "--store", "uk",
                                         "--mapping", str(mapping)])
    assert result.exit_code == 0, result.output
    assert Purchase.objects.get().amount == Decimal("9.99")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--map", "customer_id=Client"], "Unknown column in the mapping: customer_id='Client'"),
        (["--map", "customer_id"], "--map 'customer_id': write it as field=Column."),
        (["--store", "nowhere"], "--store: no store with slug 'nowhere'."),
        (["--time-zone", "Mars/Olympus"], "--time-zone: unknown time zone 'Mars/Olympus'."),
        (["--encoding", "klingon"], "--encoding: unknown encoding 'klingon'"),
        (["--invoice", "week"], "--invoice: 'week' is not one of column, line, customer-day."),
    ],
)
def test_an_unusable_mapping_or_option_exits_non_zero_naming_the_problem(
    uk_store: Store, write_csv: WriteCsv, args: list[str], message: str
) -> None:
    path = write_csv(ROWS)
    before = table_counts()
    result = runner.invoke(build_app(), ["import", "purchases", str(path), "--store", "uk",
                                         *args])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert table_counts() == before


def test_a_missing_file_exits_non_zero(uk_store: Store, tmp_path: Path) -> None:
    result = runner.invoke(build_app(), ["import", "purchases", str(tmp_path / "none.csv"),
                                         "--store", "uk"])
    assert result.exit_code == 2
    assert "No such file" in result.output
