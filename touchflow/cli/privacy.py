"""``touchflow privacy``: export or erase one customer's data, and run retention."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from touchflow.core.errors import InvalidInput
from touchflow.privacy import retention as policy
from touchflow.privacy.actor import Requester
from touchflow.privacy.erase import erase_customer
from touchflow.privacy.export import export_customer

app = typer.Typer(
    help="Privacy requests: export or erase one customer's data; clear old message texts.",
    no_args_is_help=True,
)
console = Console(stderr=True)


@app.command("export")
def export(
    customer_id: int = typer.Argument(..., help="The customer's id (a merged id works too)."),
    output: Path = typer.Option(None, "-o", "--output", help="Write the JSON here, not stdout."),
) -> None:
    """Everything Touchflow holds about one customer, as JSON. Logged on the privacy log."""
    try:
        document = export_customer(customer_id, Requester.cli())
    except InvalidInput as exc:
        console.print(f"[red]{exc.field}: {exc.message}[/red]")
        raise typer.Exit(2) from exc
    text = json.dumps(document, ensure_ascii=False, indent=2)
    if output is None:
        typer.echo(text)
        return
    output.write_text(text + "\n", encoding="utf-8")
    console.print(f"Customer {document['customer_id']} exported to {output}.")


@app.command("erase")
def erase(
    customer_id: int = typer.Argument(..., help="The customer's id (a merged id works too)."),
    yes: bool = typer.Option(False, "--yes", help="Confirm: this cannot be undone."),
    no_suppress: bool = typer.Option(
        False, "--no-suppress",
        help="Do not put the contacts on the suppression list (they may be messaged again "
        "if they come back).",
    ),
) -> None:
    """Erase one customer's personal data everywhere; counts and states stay. Logged."""
    if not yes:
        console.print("[red]Erasure cannot be undone: add --yes to confirm.[/red]")
        raise typer.Exit(2)
    try:
        report = erase_customer(customer_id, Requester.cli(), suppress=not no_suppress)
    except InvalidInput as exc:
        console.print(f"[red]{exc.field}: {exc.message}[/red]")
        raise typer.Exit(2) from exc
    summary = ", ".join(f"{k} {v}" for k, v in report.counts.items())
    typer.echo(f"customer {report.customer_id} erased: {summary}")


@app.command("retention")
def retention(
    dry_run: bool = typer.Option(False, "--dry-run", help="Only count what would be cleared."),
) -> None:
    """Clear message texts older than TOUCHFLOW_RETENTION_DAYS and webhook event ids older
    than TOUCHFLOW_INBOUND_EVENT_DAYS. The worker also does this once a day."""
    report = policy.run(Requester.cli(), dry_run=dry_run)
    summary = ", ".join(f"{k} {v}" for k, v in report.counts.items())
    verb = "would clear" if dry_run else "cleared"
    typer.echo(f"{verb}: {summary} (texts before {report.texts_before:%Y-%m-%d}, "
               f"webhook events before {report.events_before:%Y-%m-%d})")
