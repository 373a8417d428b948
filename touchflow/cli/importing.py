"""``touchflow import``: bulk imports of existing customers and purchase history."""

from __future__ import annotations

import typer

app = typer.Typer(help="Import purchase history and customers from CSV files.", no_args_is_help=True)
