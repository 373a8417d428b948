"""``touchflow serve``, ``touchflow demo``, ``touchflow migrate``: running Touchflow."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import typer
from django.conf import settings
from django.core.management import call_command
from rich.console import Console

from touchflow.cli.secrets_check import refuse_trial_secrets
from touchflow.core.channels import NAMES

console = Console()


def migrate(verbosity: int = 0) -> None:

    call_command("migrate", interactive=False, verbosity=verbosity)


def _bin(name: str) -> str:
    return shutil.which(name, path=os.path.dirname(sys.executable)) or name


def gunicorn_argv(host: str, port: int, workers: int,
                  app: str = "touchflow.wsgi:application") -> list[str]:
    # Threaded workers keep client connections alive between requests (sync workers
    # close each one); under the GIL they measured no faster here, so sync is the default.
    threads = int(os.environ.get("TOUCHFLOW_WEB_THREADS", "1"))
    return [
        _bin("gunicorn"),
        app,
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
        # A sync worker busy longer than this is killed: a CSV export of a million
        # customers streams for about two minutes (measured), so five are allowed.
        "--timeout",
        os.environ.get("TOUCHFLOW_WEB_TIMEOUT", "300"),
    ]


def port_is_free(host: str, port: int) -> bool:
    """Can a server listen on HOST:PORT now? (gunicorn binds the same way.)"""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def refuse_busy_port(host: str, port: int) -> None:
    if not port_is_free(host, port):
        console.print(
            f"[red]Port {port} is already in use on {host}.[/red] Stop what is using it, or "
            f"choose another port: [bold]--port {port + 1}[/bold] "
            f"(make demo PORT={port + 1})."
        )
        raise typer.Exit(1)


def listen_env(host: str, port: int, env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of the server's processes, refusing a busy port once and plainly
    (gunicorn would retry and log five times while the worker already ran). Links in
    messages (unsubscribe) and webhook URLs follow the port unless
    TOUCHFLOW_PUBLIC_URL says where the public address is."""
    refuse_busy_port(host, port)
    env = dict(os.environ if env is None else env)
    if not env.get("TOUCHFLOW_PUBLIC_URL"):
        shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        env["TOUCHFLOW_PUBLIC_URL"] = f"http://{shown}:{port}"
    return env


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serve_forever(
    host: str, port: int, workers: int, with_worker: bool, env: dict[str, str] | None = None
) -> None:
    """Run the production web server (gunicorn) and, unless told otherwise, one
    delivery worker beside it, until interrupted; stop both together."""
    # A service manager (or `kill`) stops us with SIGTERM: treat it as Ctrl-C, so the
    # children are stopped too instead of holding the port as orphans.
    signal.signal(signal.SIGTERM, _interrupt)
    children = [subprocess.Popen(gunicorn_argv(host, port, workers), env=env)]
    if with_worker:
        children.append(subprocess.Popen([_bin("touchflow"), "worker"], env=env))
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
    failed = [c.returncode for c in children if c.returncode not in (0, -signal.SIGTERM, None)]
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        host: str = typer.Option("127.0.0.1", help="Address to listen on."),
        port: int = typer.Option(8000, help="Port to listen on."),
        workers: int = typer.Option(
            int(os.environ.get("TOUCHFLOW_WEB_WORKERS", "3")), help="Web server processes."
        ),
        no_migrate: bool = typer.Option(False, "--no-migrate", help="Skip applying migrations."),
        no_worker: bool = typer.Option(
            False, "--no-worker", help="Do not start a delivery worker (run them separately)."
        ),
    ) -> None:
        """Start the web UI and REST API (gunicorn) on HOST:PORT, with one delivery worker."""
        refuse_trial_secrets(console)
        if not no_migrate:
            migrate()
        env = listen_env(host, port)
        console.print(f"Touchflow on [bold]http://{host}:{port}/[/bold]  (API: /api/v1/docs)")
        serve_forever(host, port, workers, with_worker=not no_worker, env=env)

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
        """Load demo data (two stores, staff, chains, a few hundred customers) and start
        Touchflow with a worker. Without TOUCHFLOW_CHANNELS, messages go to files in
        var/outbox/ — nothing leaves the machine."""
        env = dict(os.environ) if load_only else listen_env(host, port)
        migrate()
        # Here, not at the top: the demo data module (~45 ms) is needed by this command only.
        from touchflow import demo as demo_data

        logins = demo_data.load(seed=seed, console=console)
        console.print(
            "\n[bold]Log in with any of these (password for all: "
            f"[green]{demo_data.PASSWORD}[/green]):[/bold]"
        )
        for username, role, stores in logins:
            console.print(f"  {username:<10} {role:<12} {stores}")
        if load_only:
            return
        if not settings.TOUCHFLOW_CHANNELS:
            outbox = settings.VAR_DIR / "outbox"
            env["TOUCHFLOW_CHANNELS"] = ";".join(f"{name}=outbox:{outbox}" for name in NAMES)
            console.print(f"Messages are written to [bold]{outbox}/<channel>.jsonl[/bold].")
        refuse_busy_port(host, port)  # it was free before loading; is it still?
        console.print(f"\nTouchflow on [bold]http://{host}:{port}/[/bold]")
        serve_forever(
            host,
            port,
            int(os.environ.get("TOUCHFLOW_WEB_WORKERS", "3")),
            with_worker=True,
            env=env,
        )
