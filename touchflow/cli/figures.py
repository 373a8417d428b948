"""``touchflow figures``: the dashboard's counts, recounted or folded by hand."""

from __future__ import annotations

import time

import typer
from rich.console import Console

from touchflow.timeline import figures
from touchflow.visits import queries as visits

app = typer.Typer(help="The dashboard's figures: recount them from the timeline, or fold "
                       "the counts not folded yet.", no_args_is_help=True)
console = Console()


@app.command("rebuild")
def rebuild() -> None:
    """Recount every figure from scratch: the timeline and the visits. Events that
    arrive meanwhile are counted once. The worker keeps them current otherwise."""
    started = time.perf_counter()
    read = figures.rebuild(visits.figure_rows())
    console.print(f"Recounted {read:,} events and visits in "
                  f"{time.perf_counter() - started:.1f} s.")


@app.command("rollups")
def rollups() -> None:
    """Add the daily figures up into the weekly, monthly and yearly ones again (a period
    is read from those where it can): after a repair of the daily figures by hand."""
    started = time.perf_counter()
    figures.refill_rollups()
    console.print(f"Weekly, monthly and yearly figures made again in "
                  f"{time.perf_counter() - started:.1f} s.")


@app.command("fold")
def fold() -> None:
    """Fold the counts written since the worker last did (it does every 15 s)."""
    console.print(f"Folded {figures.fold():,} counts.")
