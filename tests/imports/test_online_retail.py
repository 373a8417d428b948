"""The first 5,000 lines of the real Online Retail file, checked against counts made here."""

from __future__ import annotations

import csv
import gzip
import itertools
import os
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from django.db.models import Sum

from tests.paths import ONLINE_RETAIL
from touchflow.customers.models import Customer
from touchflow.funnel.importer import ImportOptions, import_purchases
from touchflow.purchases.import_mapping import build_mapping
from touchflow.purchases.models import Purchase
from touchflow.stores.models import Store
from touchflow.timeline.models import TimelineEvent

DATA = ONLINE_RETAIL
LINES = 5000

# In CI the data set must be there: a missing file fails the run instead of skipping it.
pytestmark = pytest.mark.skipif(
    not DATA.exists() and os.environ.get("CI") != "true",
    reason=f"the Online Retail file is not at {DATA}",
)


def test_the_first_lines_of_online_retail_import_as_counted_independently(
    uk_store: Store, tmp_path: Path
) -> None:
    with gzip.open(DATA, "rt", encoding="utf-8", newline="") as f:
        text = "".join(itertools.islice(f, LINES))
    sample = tmp_path / "head.csv"
    sample.write_text(text, encoding="utf-8", newline="")

    # The expectation, computed the plain way.
    cancelled, anonymous, totals = set(), set(), defaultdict(Decimal)
    cancelled_lines = anonymous_lines = 0
    customers = set()
    for row in csv.DictReader(text.splitlines()):
        if row["InvoiceNo"].startswith("C"):
            cancelled.add(row["InvoiceNo"])
            cancelled_lines += 1
        elif not row["CustomerID"]:
            anonymous.add(row["InvoiceNo"])
            anonymous_lines += 1
        else:
            totals[row["InvoiceNo"]] += Decimal(row["Quantity"]) * Decimal(row["UnitPrice"])
            customers.add(row["CustomerID"].removesuffix(".0"))
    expected_total = sum(t.quantize(Decimal("0.01"), ROUND_HALF_UP) for t in totals.values())

    report = import_purchases(sample, build_mapping(), ImportOptions(store=uk_store))

    assert report.rows_read == LINES - 1
    assert (report.bad_rows, report.held_back) == ([], [])
    assert report.invoices_imported == len(totals) == Purchase.objects.count()
    assert report.customers_created == len(customers) == Customer.objects.count()
    assert (report.skipped["cancelled"].lines, report.skipped["cancelled"].invoices) == (
        cancelled_lines, len(cancelled))
    assert (report.skipped["no_customer"].lines, report.skipped["no_customer"].invoices) == (
        anonymous_lines, len(anonymous))
    assert set(Purchase.objects.values_list("external_id", flat=True)) == set(totals)
    assert Purchase.objects.aggregate(s=Sum("amount"))["s"] == expected_total
    assert set(Customer.objects.values_list("external_ids__value", flat=True)) == customers
    assert TimelineEvent.objects.filter(kind="purchase").count() == len(totals)
    assert TimelineEvent.objects.filter(kind="customer_created").count() == len(customers)
