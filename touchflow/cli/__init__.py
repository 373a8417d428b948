"""The ``touchflow`` command: run, seed, import and administer Touchflow."""

from __future__ import annotations

import os

import django
import typer

app = typer.Typer(
    help=(
        "Touchflow: customer care and multiple-touch follow-up for stores.\n\n"
        "Configuration comes from the environment: TOUCHFLOW_DATABASE_URL selects the "
        "database (an SQLite file under var/ by default, or postgresql://user@host/db)."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
)


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "touchflow.settings")
    django.setup()


_built = False


def build_app() -> typer.Typer:
    """Attach the sub-commands. Their modules may import Django models, so Django
    must be set up first (``main`` does it; pytest-django does it in tests)."""
    global _built
    if not _built:
        from touchflow.cli import (
            channels,
            doctor,
            figures,
            flows,
            health,
            importing,
            privacy,
            replay,
            run,
            tokens,
            tone,
            worker,
        )

        app.add_typer(importing.app, name="import")
        app.add_typer(tokens.app, name="token")
        app.add_typer(flows.app, name="flows")
        app.add_typer(channels.app, name="channels")
        app.add_typer(privacy.app, name="privacy")
        app.add_typer(figures.app, name="figures")
        app.add_typer(tone.app, name="tone")
        run.register(app)
        worker.register(app)
        doctor.register(app)
        replay.register(app)
        health.register(app)
        _built = True
    return app


def main() -> None:
    setup_django()
    build_app()()
