"""Which CSV column feeds which purchase field, for ``touchflow import purchases``.

A mapping starts from the default (the column names of the UCI "Online Retail" file),
then a mapping file, then ``--map field=Column`` options override it field by field.
Default columns that the file does not have are dropped quietly (the default is a
guess); columns the user named must exist, or the import stops before writing
anything with an error naming the column.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Target field → what it means. The keys are the only names a mapping may use.
FIELDS: dict[str, str] = {
    "invoice": "invoice number; one purchase per invoice (Purchase.external_id)",
    "customer_id": "the customer's id in the source system (Customer.external_id)",
    "occurred_at": "date and time of the line; the purchase takes the earliest",
    "quantity": "quantity of the line",
    "unit_price": "price of one unit; line amount = quantity × unit price",
    "amount": "line amount, for files without quantity and unit price",
    "sku": "product code",
    "description": "product name",
    "country": "the customer's country",
    "email": "the customer's e-mail address",
    "phone": "the customer's phone number",
    "name": "the customer's name",
    "category": "product category of the line",
    "currency": "ISO 4217 currency of the line (default: --currency, else the store's)",
    "visit": "the visit id Touchflow gave a counter sale (the API's visit_id): the line "
    "completes that sale",
}

DEFAULT_COLUMNS: dict[str, str] = {
    "invoice": "InvoiceNo",
    "sku": "StockCode",
    "description": "Description",
    "quantity": "Quantity",
    "occurred_at": "InvoiceDate",
    "unit_price": "UnitPrice",
    "customer_id": "CustomerID",
    "country": "Country",
}

# Options a mapping file may carry besides its columns.
FILE_SETTINGS = ("currency", "time_zone", "date_format")


class MappingError(ValueError):
    """The mapping cannot be applied to this file; nothing was imported."""


@dataclass(frozen=True)
class ColumnMapping:
    """Target field → column name. ``explicit`` holds the fields the user named."""

    columns: dict[str, str]
    explicit: frozenset[str] = field(default_factory=frozenset)

    def resolve(self, header: Sequence[str], by_invoice: bool = True) -> dict[str, int]:
        """Target field → column index in ``header``; raise MappingError if unusable.

        ``by_invoice`` false: purchases are made per line or per customer and day, so
        the file needs no invoice column (and any is not used).
        """
        index = {name.strip(): i for i, name in enumerate(header)}
        resolved: dict[str, int] = {}
        unknown = []
        for target, column in self.columns.items():
            if column in index:
                resolved[target] = index[column]
            elif target in self.explicit:
                unknown.append(f"{target}={column!r}")
        if unknown:
            raise MappingError(
                f"Unknown column in the mapping: {', '.join(unknown)}. "
                f"The file's columns are: {', '.join(repr(h) for h in header)}."
            )
        if not by_invoice:
            resolved.pop("invoice", None)
        _check_required(resolved, by_invoice)
        return resolved


def _check_required(resolved: Mapping[str, int], by_invoice: bool) -> None:
    needed = ("invoice", "occurred_at") if by_invoice else ("occurred_at",)
    missing = [f for f in needed if f not in resolved]
    if "invoice" in missing:
        missing[missing.index("invoice")] = "invoice (or --invoice line or customer-day)"
    if not {"customer_id", "email", "phone"} & resolved.keys():
        missing.append("customer_id (or email or phone)")
    if "amount" not in resolved and not {"quantity", "unit_price"} <= resolved.keys():
        missing.append("amount (or quantity and unit_price)")
    if missing:
        raise MappingError(f"The mapping has no column for: {', '.join(missing)}.")


def parse_map_options(options: Iterable[str]) -> dict[str, str]:
    """``["invoice=Order", "sku="]`` → ``{"invoice": "Order", "sku": ""}`` (empty = unmapped)."""
    result: dict[str, str] = {}
    for option in options:
        target, sep, column = option.partition("=")
        if not sep:
            raise MappingError(f"--map {option!r}: write it as field=Column.")
        result[target.strip()] = column.strip()
    return result


def load_mapping_file(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Read a JSON or TOML mapping file → (columns, settings).

    Either flat (``{"invoice": "Order"}``) or with sections
    (``{"columns": {...}, "currency": "EUR", "time_zone": ..., "date_format": ...}``).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(f"Cannot read the mapping file {path}: {exc.strerror}.") from exc
    try:
        data: Any = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise MappingError(f"The mapping file {path} is not valid: {exc}.") from exc
    if not isinstance(data, dict):
        raise MappingError(f"The mapping file {path} must hold an object of field = column.")
    sectioned = "columns" in data
    columns = data["columns"] if sectioned else data
    settings = {k: str(data[k]) for k in FILE_SETTINGS if sectioned and k in data}
    if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
        raise MappingError(f"The mapping file {path}: every column name must be a string.")
    return dict(columns), settings


def build_mapping(*overrides: Mapping[str, str]) -> ColumnMapping:
    """The default mapping with each override applied in turn; an empty column unmaps."""
    columns = dict(DEFAULT_COLUMNS)
    explicit: set[str] = set()
    for override in overrides:
        for target, column in override.items():
            if target not in FIELDS:
                raise MappingError(
                    f"Unknown field {target!r} in the mapping; fields are: {', '.join(FIELDS)}."
                )
            if column:
                columns[target] = column
                explicit.add(target)
            else:
                columns.pop(target, None)
                explicit.discard(target)
    return ColumnMapping(columns, frozenset(explicit))
