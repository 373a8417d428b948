"""Fixtures for the purchase import tests: a UK store and CSV files written on the spot."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import pytest
from django.apps import apps

from touchflow.stores.models import Store

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"


@pytest.fixture
def uk_store(make_store: Callable[..., Store]) -> Store:
    return make_store(name="Gift shop", slug="uk", country="GB", time_zone="Europe/London",
                      language="en", currency="GBP")


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[..., Path]:
    """Write CSV text (header included by the caller) to a file, gzipped if asked."""

    def write(text: str, name: str = "retail.csv", gz: bool = False) -> Path:
        path = tmp_path / name
        data = text.encode("utf-8")
        path.write_bytes(gzip.compress(data) if gz else data)
        return path

    return write


def table_counts() -> dict[str, int]:
    """Rows in every table of every installed model: proof that nothing else changed."""
    return {m._meta.db_table: m._default_manager.count() for m in apps.get_models()}
