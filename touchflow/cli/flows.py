"""``touchflow flows``: chain files in, out and checked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import typer
from django.conf import settings
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from touchflow.core.errors import InvalidInput
from touchflow.flows import checks
from touchflow.flows.actions import export_flow, load_flow_dir, read_flow_file
from touchflow.flows.models import Flow
from touchflow.flows.spec import FlowFileError, FlowSpec
from touchflow.funnel.chains import set_status

app = typer.Typer(help="Load, check, list and export chains (YAML files).", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


def _print_error(exc: Exception) -> None:
    for line in str(exc).splitlines():
        err.print(f"[red]{line}[/red]", highlight=False)


@app.command("validate")
def validate(files: list[Path] = typer.Argument(..., help="Chain files to check.")) -> None:
    """Check chain files without loading them; print every wrong line."""
    bad = 0
    for path in files:
        try:
            spec, _text = read_flow_file(path)
        except FlowFileError as exc:
            bad += 1
            _print_error(exc)
        except OSError as exc:
            bad += 1
            err.print(f"[red]{path}: {exc.strerror}[/red]")
        else:
            console.print(f"{path}: ok — {spec.slug}, {len(spec.steps)} steps")
            for warning in chain_warnings(spec):
                err.print(f"[yellow]{escape(f'{path}: warning: {warning}')}[/yellow]",
                          highlight=False, soft_wrap=True)
    raise typer.Exit(1 if bad else 0)


def chain_warnings(spec: FlowSpec) -> Iterator[str]:
    """Win–lose or pushy wording in each step's texts and a chain that sells too much,
    sells first or runs too long (issue 12): warnings only, a chain that says "hurry" is
    still a valid file."""
    for warning in checks.warnings(spec, warming_days=settings.TOUCHFLOW_WARMING_MAX_DAYS):
        if warning.check == "tone":
            yield (f"step {warning.step!r}, {warning.language} {warning.part}: "
                   f"{warning.category} «{' '.join(warning.words)}» — {warning.suggestion}")
        else:
            yield f"step {warning.step!r}: {warning.message}" if warning.step else warning.message


@app.command("load")
def load(
    directory: Path = typer.Argument(..., help="A folder of *.yaml chain files."),
    activate: bool = typer.Option(False, help="Activate every chain loaded."),
) -> None:
    """Create or update chains from a folder; a bad file is reported, the others load."""
    if not directory.is_dir():
        err.print(f"[red]{directory}: not a folder[/red]")
        raise typer.Exit(2)
    results, errors = load_flow_dir(directory)
    for result in results:
        if activate:
            set_status(result.flow, "active")
        what = "created" if result.created else "updated" if result.changed else "unchanged"
        console.print(
            f"{result.flow.slug}: {what} (version {result.flow.version}, {result.flow.status})"
        )
    for exc in errors:
        _print_error(exc)
    raise typer.Exit(1 if errors else 0)


@app.command("list")
def list_flows() -> None:
    """List chains with their status and step count."""
    table = Table("slug", "name", "status", "steps", "version", "source")
    for flow in Flow.objects.order_by("slug"):
        table.add_row(
            flow.slug,
            flow.name,
            flow.status,
            str(flow.steps.filter(retired=False).count()),
            str(flow.version),
            flow.source_path,
        )
    console.print(table)


@app.command("export")
def export(
    directory: Path = typer.Argument(..., help="Folder to write *.yaml files into."),
) -> None:
    """Write every chain back out as the file it was loaded from."""
    directory.mkdir(parents=True, exist_ok=True)
    for flow in Flow.objects.order_by("slug"):
        console.print(str(export_flow(flow, directory)))


@app.command("status")
def status(slug: str, new_status: str = typer.Argument(..., metavar="active|paused|draft")) -> None:
    """Activate or pause a chain."""
    flow = Flow.objects.filter(slug=slug).first()
    if flow is None:
        err.print(f"[red]no chain {slug!r}[/red]")
        raise typer.Exit(2)
    try:
        set_status(flow, new_status)
    except InvalidInput as exc:
        err.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"{slug}: {flow.status}")
