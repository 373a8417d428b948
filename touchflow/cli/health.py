"""``touchflow health``: rebuild the stores' relationship health now (the worker does it
once a day) and say, per store, how many buyers and prospects are going cold."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from touchflow.core import clock
from touchflow.health import actions, queries
from touchflow.health.models import StoreFit
from touchflow.stores.models import Store

errors = Console(stderr=True, soft_wrap=True)


def register(app: typer.Typer) -> None:
    @app.command("health")
    def health(
        store: Annotated[str | None, typer.Option(
            "--store", help="Only the store with this slug (default: every store).")] = None,
        today: Annotated[str | None, typer.Option(
            "--today", metavar="YYYY-MM-DD",
            help="Judge as of the end of this day (default: each store's today); the "
                 "history after it is left out.")] = None,
    ) -> None:
        """Mark the customers going cold: each one's days since their last purchase or
        two-way contact against their rhythm, and, where a store has the history, the
        BG/NBD model's chance they still buy. The worker does this once a day."""
        day = _day(today)
        stores = _stores(store)
        table = _table()
        for row in stores:
            fit = actions.refresh(row, day or queries.today_in(row, clock.now()))
            _add(table, row, fit)
        Console().print(table)  # made now: it takes the terminal's width (COLUMNS)


def _day(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors.print(f"[red]--today: not a date like 2026-06-02: {escape(repr(text))}[/red]")
        raise typer.Exit(2) from None


def _stores(slug: str | None) -> list[Store]:
    if slug is None:
        return list(Store.objects.order_by("slug"))
    found = Store.objects.filter(slug=slug).first()
    if found is None:
        errors.print(f"[red]--store: no store with slug {escape(repr(slug))}[/red]")
        raise typer.Exit(2)
    return [found]


def _table() -> Table:
    table = Table(title="Relationship health")
    table.add_column("store")
    table.add_column("as of")
    for name in ("buyers", "cold", "prospects", "cold ", "rhythm (days)", "visits (days)"):
        table.add_column(name, justify="right")
    table.add_column("model")
    table.add_column("seconds", justify="right")
    return table


def _add(table: Table, store: Store, fit: StoreFit) -> None:
    table.add_row(escape(store.slug), str(fit.as_of), str(fit.buyers), str(fit.cold_buyers),
                  str(fit.prospects), str(fit.cold_prospects), _days(fit.store_rhythm_days),
                  _days(fit.visit_rhythm_days), escape(_model(fit)), f"{fit.seconds:.2f}")


def _days(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


def _model(fit: StoreFit) -> str:
    if fit.r is None or fit.alpha is None or fit.a is None or fit.b is None:
        return f"{fit.get_note_display()}: {fit.detail}" if fit.detail else fit.get_note_display()
    return (f"r={fit.r:.3g} α={fit.alpha:.3g}d a={fit.a:.3g} b={fit.b:.3g} "
            f"({fit.repeat_buyers} repeat buyers)")
