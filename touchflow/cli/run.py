"""``touchflow serve``, ``touchflow demo``, ``touchflow migrate``: running Touchflow."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import typer
from rich.console import Console

console = Console()


def migrate(verbosity: int = 0) -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=verbosity)


def _gunicorn_argv(host: str, port: int, workers: int) -> list[str]:
    exe = shutil.which("gunicorn", path=os.path.dirname(sys.executable)) or "gunicorn"
    # Threaded workers keep client connections alive between requests (sync workers
    # close each one), which saves a TCP handshake per call from a POS.
    threads = int(os.environ.get("TOUCHFLOW_WEB_THREADS", "1"))
    return [
        exe,
        "touchflow.wsgi:application",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread" if threads > 1 else "sync",
        "--threads",
        str(threads),
        "--access-logfile",
        "-" if os.environ.get("TOUCHFLOW_ACCESS_LOG") else "/dev/null",
        "--timeout",
        "60",
    ]


def serve_forever(host: str, port: int, workers: int) -> None:
    """Run the production web server (gunicorn) until interrupted."""
    argv = _gunicorn_argv(host, port, workers)
    proc = subprocess.Popen(argv)
    try:
        raise typer.Exit(proc.wait())
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait(timeout=15)


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        host: str = typer.Option("127.0.0.1", help="Address to listen on."),
        port: int = typer.Option(8000, help="Port to listen on."),
        workers: int = typer.Option(
            int(os.environ.get("TOUCHFLOW_WEB_WORKERS", "3")), help="Web server processes."
        ),
        no_migrate: bool = typer.Option(False, "--no-migrate", help="Skip applying migrations."),
    ) -> None:
        """Start the web UI and the REST API (gunicorn) on HOST:PORT."""
        if not no_migrate:
            migrate()
        console.print(f"Touchflow on [bold]http://{host}:{port}/[/bold]  (API: /api/v1/docs)")
        serve_forever(host, port, workers)

    @app.command("migrate")
    def migrate_cmd() -> None:
        """Create or update the database schema."""
        migrate(verbosity=1)

    @app.command()
    def demo(
        host: str = typer.Option("127.0.0.1", help="Address to listen on."),
        port: int = typer.Option(8000, help="Port to listen on."),
        load_only: bool = typer.Option(False, "--load-only", help="Load demo data and exit."),
        seed: int = typer.Option(7, help="Random seed of the demo data."),
    ) -> None:
        """Load demo data (two stores, staff, a few hundred customers) and start Touchflow."""
        from touchflow import demo as demo_data

        migrate()
        logins = demo_data.load(seed=seed, console=console)
        console.print(
            "\n[bold]Log in with any of these (password for all: "
            f"[green]{demo_data.PASSWORD}[/green]):[/bold]"
        )
        for username, role, stores in logins:
            console.print(f"  {username:<10} {role:<12} {stores}")
        if load_only:
            return
        console.print(f"\nTouchflow on [bold]http://{host}:{port}/[/bold]")
        serve_forever(host, port, int(os.environ.get("TOUCHFLOW_WEB_WORKERS", "3")))
