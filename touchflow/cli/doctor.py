"""``touchflow doctor``: check the configuration, the database, the provider accounts,
the queue and the enrollments, and say what is wrong (the checks live in
``touchflow.messaging.health``)."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

from touchflow.core import clock

console = Console(soft_wrap=True)

STYLE = {"OK": "green", "WARN": "yellow", "FAIL": "bold red"}


def register(app: typer.Typer) -> None:
    @app.command()
    def doctor(
        live: bool = typer.Option(
            False, "--live", help="Also connect to each provider account's API (network)."
        ),
    ) -> None:
        """Check that this deployment can deliver; exit 1 when something FAILs.

        Reads only: nothing is changed, and nothing leaves the machine without --live.
        """
        # Here, not at the top: the checks pull in every provider module and httpx (~65 ms),
        # which every other command — an import timed end to end — would pay at start-up.
        from touchflow.messaging import health

        failed = False
        for finding in health.run(clock.now(), live=live):
            status = finding.status.value
            failed |= finding.status is health.Status.FAIL
            console.print(
                f"[{STYLE[status]}]{status:<4}[/{STYLE[status]}] "
                f"{escape(finding.check)}: {escape(finding.detail)}"
            )
            if finding.fix:
                console.print(f"     → {escape(finding.fix)}")
        if failed:
            raise typer.Exit(1)
