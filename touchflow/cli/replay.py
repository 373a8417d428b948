"""``touchflow replay``: a real year through Touchflow on a moving clock (issue 10)."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from touchflow import replay

console = Console()
DATA = Path("shared") / "data" / "online_retail_2010_2011.csv.gz"
# shared/ beside the checkout, else the workplace's copy.
DEFAULT_FILE = next((root / DATA for root in (Path(__file__).resolve().parents[3],
                                               Path("/work")) if (root / DATA).exists()),
                    Path("/work") / DATA)


def register(app: typer.Typer) -> None:
    @app.command("replay")
    def replay_command(
        file: Annotated[Path, typer.Option(
            help="The purchase history (Online Retail's columns).")] = DEFAULT_FILE,
        store: Annotated[str, typer.Option(
            help="The store to replay into; its purchases are used when it has any.")] = "replay",
        seed: Annotated[int, typer.Option(help="Seeds the simulated customers.")] = 7,
        step_minutes: Annotated[int, typer.Option(
            help="How far the simulated clock moves each step.")] = 60,
    ) -> None:
        """Replay a year of purchases through the chains, the engine and the after-sale
        rules on a moving clock, with simulated answers; print per month what happened
        and check that no customer got more than the caps or a message in quiet hours.
        Exit 1 when a check fails."""
        started = time.perf_counter()
        if not file.is_file():
            Console(stderr=True).print(f"[red]Cannot replay:[/red] no such file: {file}.")
            raise typer.Exit(2)
        try:
            result = replay.run(file, store, seed, timedelta(minutes=step_minutes),
                                log=lambda line: console.print(line, style="dim"))
        except ValueError as exc:
            Console(stderr=True).print(f"[red]Cannot replay:[/red] {exc}", highlight=False)
            raise typer.Exit(2) from exc
        console.print(_table(result))
        console.print(f"{result.purchases} purchases, {result.sent} messages sent, "
                      f"{time.perf_counter() - started:.0f} s")
        problems = result.cap_breaches + result.quiet_breaches
        for line in problems[:20]:
            console.print(f"[red]{line}[/red]")
        if problems:
            raise typer.Exit(1)
        console.print("[green]No customer got more than the caps, none a message in quiet "
                      "hours.[/green]")


def _table(result: replay.Result) -> Table:
    table = Table(title="Replay, per month")
    columns = ("check_ins", "answered", "unhappy", "escalations", "resolved_in_time",
               "referral_requests", "referrals", "review_requests", "review_clicks")
    table.add_column("month")
    for name in columns:
        table.add_column(name.replace("_", " "), justify="right")
    for month, row in [*result.months.items(), ("total", replay.totals(result))]:
        table.add_row(month, *(str(getattr(row, name)) for name in columns))
    return table
