"""``touchflow import``: bulk imports of existing customers and purchase history."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from touchflow.funnel.importer import ImportOptions, UnusableInput, import_purchases

# Neither module touches Django models, so they load before django.setup().
from touchflow.purchases.import_mapping import (
    MappingError,
    build_mapping,
    load_mapping_file,
    parse_map_options,
)
from touchflow.purchases.import_report import ImportReport
from touchflow.stores.models import Store

app = typer.Typer(
    help="Import purchase history and customers from CSV files.", no_args_is_help=True
)
console = Console()

SKIP_LABELS = {
    "cancelled": "cancellations",
    "no_customer": "lines without a customer id",
    "already_imported": "already imported",
}


@app.command("purchases")
def purchases(
    file: Annotated[Path, typer.Argument(help="CSV file, plain or gzipped.")],
    store: Annotated[str, typer.Option("--store", help="Slug of the target store.")],
    map_: Annotated[list[str] | None, typer.Option(
        "--map", metavar="FIELD=COLUMN",
        help="Map a field to a CSV column (repeatable); FIELD= unmaps. Fields: invoice, "
             "customer_id, occurred_at, quantity, unit_price, amount, sku, description, "
             "country, email, phone, name, category, currency.",
    )] = None,
    mapping: Annotated[Path | None, typer.Option(
        "--mapping", help="A .json or .toml file with the column mapping.")] = None,
    currency: Annotated[str | None, typer.Option(
        help="Currency of the amounts (default: the store's).")] = None,
    time_zone: Annotated[str | None, typer.Option(
        "--time-zone", help="Time zone of dates without an offset (default: the store's).")] = None,
    date_format: Annotated[str | None, typer.Option(
        "--date-format", help="strptime format of the dates (default: ISO 8601).")] = None,
    encoding: Annotated[str | None, typer.Option(
        "--encoding", help="Encoding of the file (default: UTF-8), e.g. cp1250, cp1251, "
                           "latin-1. A line the encoding cannot read is refused alone.")] = None,
    invoice: Annotated[str, typer.Option(
        "--invoice", metavar="column|line|customer-day",
        help="What makes one purchase: the invoice column (default); each line; or each "
             "customer's lines of one local day, for files without an invoice column.",
    )] = "column",
    errors: Annotated[Path | None, typer.Option(
        "--errors", help="Write every line not imported to this CSV file, with its line "
                         "number and why (bad, held back with its invoice, skipped).")] = None,
    show: Annotated[int, typer.Option(
        help="How many bad rows and held-back invoices to print.")] = 10,
) -> None:
    """Import purchase history from CSV: one purchase per invoice, customers by their id.

    The default mapping fits the UCI "Online Retail" file (InvoiceNo, StockCode, \
    Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country). \
    Running the same import again changes nothing.

    Bad rows are reported with their line numbers while every good invoice imports; \
    the exit code is non-zero only when the file or the mapping cannot be used at all.

    Without an invoice column, --invoice line makes each line a purchase and \
    --invoice customer-day each customer's lines of one day (in the store's time zone).
    """
    store_row = Store.objects.filter(slug=store).first()
    if store_row is None:
        _fail(f"--store: no store with slug {store!r}.")
    try:
        file_columns, file_settings = load_mapping_file(mapping) if mapping else ({}, {})
        column_mapping = build_mapping(file_columns, parse_map_options(map_ or []))
        options = ImportOptions(
            store=store_row,
            currency=currency or file_settings.get("currency"),
            time_zone=time_zone or file_settings.get("time_zone"),
            date_format=date_format or file_settings.get("date_format"),
            encoding=encoding,
            invoice=invoice,
        )
        with _progress() as bar:
            report = import_purchases(file, column_mapping, options, bar)
    except (MappingError, UnusableInput) as exc:
        _fail(str(exc))
    _print_report(report, show)
    if errors:
        _write_errors(errors, report)
        console.print(f"Every line not imported is listed in [bold]{errors}[/bold].")


def _fail(message: str) -> NoReturn:
    Console(stderr=True).print(f"[red]Cannot import:[/red] {message}", highlight=False)
    raise typer.Exit(2)


class _progress:
    """A rich progress bar with one task per phase, fed by the importer's callback."""
    def __enter__(self) -> _progress:
        self.bar = Progress(TextColumn("{task.description:<10}"), BarColumn(),
                            TextColumn("{task.percentage:>5.1f}%"), TimeElapsedColumn(),
                            console=console, transient=False)
        self.tasks: dict[str, TaskID] = {}
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(None, None, None)

    def __call__(self, phase: str, done: int, total: int) -> None:
        if total == 0:  # nothing to do (or size unknown): show the phase as complete
            total = done = 1
        if phase not in self.tasks:
            label = {"read": "Reading", "write": "Importing"}.get(phase, phase)
            self.tasks[phase] = self.bar.add_task(label, total=total)
        self.bar.update(self.tasks[phase], completed=done, total=total)


def _print_report(report: ImportReport, show: int) -> None:
    table = Table("", "lines", "invoices", title="Import summary", title_justify="left")
    table.add_row("rows read", str(report.rows_read), "")
    table.add_row("imported", str(report.lines_imported), str(report.invoices_imported))
    for reason, count in report.skipped.items():
        table.add_row(f"skipped: {SKIP_LABELS.get(reason, reason)}", str(count.lines),
                      str(count.invoices))
    held_lines = sum(len(h.lines) for h in report.held_back)
    table.add_row("held back (bad lines)", str(held_lines), str(report.invoices_held_back))
    table.add_row("bad rows", str(len(report.bad_rows)), "")
    table.add_row("not imported (in --errors)", str(len(report.refused())), "")
    table.add_row("customers created", "", str(report.customers_created))
    table.add_row("customers already present", "", str(report.customers_existing))
    console.print(table)
    if report.bad_rows:
        console.print(f"[yellow]{len(report.bad_rows)} bad rows[/yellow] (first {show}):")
        for bad in report.bad_rows[:show]:
            console.print(f"  {bad}", highlight=False, markup=False)
    if report.held_back:
        console.print(f"[yellow]{len(report.held_back)} invoices held back[/yellow] "
                      f"(first {show}):")
        for held in report.held_back[:show]:
            console.print(f"  invoice {held.invoice}: {held.reason}", highlight=False,
                          markup=False)


def _write_errors(path: Path, report: ImportReport) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["line", "invoice", "column", "message"])
        for row in report.refused():
            writer.writerow([row.line, row.invoice, row.column, row.message])
