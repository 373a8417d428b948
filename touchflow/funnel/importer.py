"""Bulk import of purchase history from CSV: the whole file in set-shaped statements.

``import_purchases`` reads the file once (``import_source`` decodes it line by line,
``import_parse`` groups lines into invoices), then ``import_write`` looks up what
already exists with chunked ``IN`` queries and writes new customers, their contacts,
their ids in the store, store links, purchases and timeline rows in bulk, one
transaction per batch of invoices. It is idempotent: purchases by (store, external id),
customers by their id in this store or by a phone/e-mail they already own. This is the
importer's own bulk path; one-off writes go through ``funnel.purchases`` and
``funnel.customers``.
"""

from __future__ import annotations

import csv
import dataclasses
import gc
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from touchflow.core import clock
from touchflow.core.errors import InvalidInput
from touchflow.funnel import import_write
from touchflow.purchases.actions import check_currency
from touchflow.purchases.import_mapping import ColumnMapping, MappingError
from touchflow.purchases.import_parse import (
    INVOICE_COLUMN,
    INVOICE_MODES,
    ParseResult,
    ParseSettings,
    read_rows,
)
from touchflow.purchases.import_report import ImportReport
from touchflow.purchases.import_source import EncodingError, check_encoding, open_source
from touchflow.stores.models import Store

__all__ = ["ImportOptions", "UnusableInput", "import_purchases", "Progress"]

# Called as progress(phase, done, total): phase "read" counts bytes of the file,
# "write" counts invoices. total is 0 when unknown.
Progress = Callable[[str, int, int], None]


class UnusableInput(ValueError):
    """The file, its mapping or an option cannot be used; nothing was imported."""


@dataclass(frozen=True)
class ImportOptions:
    store: Store
    currency: str | None = None  # default: the store's currency
    time_zone: str | None = None  # for dates without an offset; default: the store's
    date_format: str | None = None  # strptime format; default: ISO 8601
    cancel_prefix: str = "C"
    batch_size: int = 10_000  # invoices per transaction
    encoding: str | None = None  # of the file; default UTF-8
    # "column": one purchase per invoice number; "line": per line; "customer-day": per
    # customer and local day (for files without an invoice column).
    invoice: str = INVOICE_COLUMN


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
    with _without_cycle_collection():
        return _import(source, mapping, options, progress or (lambda phase, done, total: None))


@contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """The import holds hundreds of thousands of small objects (lines, drafts, rows) and
    makes no reference cycles worth collecting: Python's cycle collector would walk them
    all again and again (measured: a fifth of the run). Reference counting still frees
    everything."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _import(
    source: Path | str | Iterable[str],
    mapping: ColumnMapping,
    options: ImportOptions,
    tell: Progress,
) -> ImportReport:
    currency = _currency(options)
    if options.invoice not in INVOICE_MODES:
        raise UnusableInput(
            f"--invoice: {options.invoice!r} is not one of {', '.join(INVOICE_MODES)}."
        )
    settings = ParseSettings(
        time_zone=_zone(options.time_zone or options.store.time_zone),
        date_format=options.date_format,
        region=options.store.country,
        now=clock.now(),
        cancel_prefix=options.cancel_prefix,
        invoice_mode=options.invoice,
    )
    report = ImportReport()
    parsed = _read(source, mapping, settings, report, tell, _encoding(options))
    plan = import_write.Plan(
        store=options.store,
        currency=currency,
        batch_size=options.batch_size,
        customers=parsed.customers,
        visit_column=mapping.columns.get("visit", "visit"),
    )
    import_write.write(parsed.invoices, plan, report, tell)
    return report


def _encoding(options: ImportOptions) -> str:
    try:
        return check_encoding(options.encoding)
    except EncodingError as exc:
        raise UnusableInput(str(exc)) from exc


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
    encoding: str,
) -> ParseResult:
    if not isinstance(source, (str, Path)):
        return _read_lines(source, mapping, settings, report, lambda: None)
    path = Path(source)
    if not path.is_file():
        raise UnusableInput(f"No such file: {path}.")
    with open_source(path, encoding) as src:
        settings = dataclasses.replace(settings, undecodable=src.undecodable)
        result = _read_lines(
            src.lines, mapping, settings, report, lambda: tell("read", src.position(), src.size)
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
        if 1 in settings.undecodable:
            raise UnusableInput(f"Line 1 (the header): {settings.undecodable[1]}")
        columns = mapping.resolve(header, by_invoice=settings.invoice_mode == INVOICE_COLUMN)
        return read_rows(reader, columns, header, settings, report, tick)
    except csv.Error as exc:  # the header itself is not CSV
        raise UnusableInput(f"Line 1 (the header) is not CSV: {exc}.") from exc
    except (OSError, EOFError) as exc:  # a truncated or corrupt gzip stream
        raise UnusableInput(f"The file cannot be read: {exc}.") from exc
    except MappingError:
        raise


