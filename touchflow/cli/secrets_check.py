"""``touchflow serve`` does not start a production server on the trial's public secrets."""

from __future__ import annotations

import typer
from django.conf import settings
from rich.console import Console

from touchflow.core.secrets import trial_secret_problems


def refuse_trial_secrets(console: Console) -> None:
    """Exit with status 2, saying what to set, while the trial's secrets are in use;
    in debug mode only warn (a developer's machine)."""
    problems = trial_secret_problems()
    if not problems:
        return
    for problem in problems:
        console.print(f"[bold red]{problem}[/bold red]")
    if settings.DEBUG:
        console.print("TOUCHFLOW_DEBUG is on: starting anyway. Never like this in production.")
        return
    console.print(
        "Set TOUCHFLOW_SECRET_KEY to a long random value (e.g. `python -c \"import secrets; "
        "print(secrets.token_urlsafe(50))\"`) and TOUCHFLOW_CREDENTIALS_KEY to the output of "
        "`touchflow channels new-key`. To try Touchflow without them, run `touchflow demo`."
    )
    raise typer.Exit(2)
