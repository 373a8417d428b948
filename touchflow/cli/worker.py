"""``touchflow worker``: the delivery dispatcher."""

from __future__ import annotations

import signal
from datetime import datetime

import typer
from rich.console import Console

console = Console()


def register(app: typer.Typer) -> None:
    @app.command()
    def worker(
        once: bool = typer.Option(False, "--once", help="Process what is due, then exit."),
        now: str = typer.Option(
            None, "--now", help="With --once: act as if it were this ISO time (simulations)."
        ),
        batch: int = typer.Option(500, help="Touches claimed per round."),
        idle: float = typer.Option(1.0, help="Seconds to wait when nothing is due."),
        lease: float = typer.Option(
            120.0, help="Seconds a claim lasts before another worker may take it over."
        ),
        retry_base: float = typer.Option(
            30.0,
            envvar="TOUCHFLOW_RETRY_BASE",
            help="Seconds before the first retry of a failed send; doubles each time.",
        ),
        retry_cap: float = typer.Option(
            7200.0, envvar="TOUCHFLOW_RETRY_CAP", help="Longest wait between two retries."
        ),
        retry_attempts: int = typer.Option(
            6, envvar="TOUCHFLOW_RETRY_ATTEMPTS", help="Attempts before a dead letter."
        ),
    ) -> None:
        """Send due touches: claim, apply the policies, render, send, record, schedule.

        Run as many as you like against PostgreSQL; on SQLite run one.
        """
        from datetime import timedelta

        from touchflow.core import clock
        from touchflow.delivery.channels.registry import from_settings
        from touchflow.delivery.dispatcher import Dispatcher
        from touchflow.delivery.retry import RetryPolicy
        from touchflow.privacy.retention import Daily

        fixed: datetime | None = None
        if now:
            if not once:
                console.print("[red]--now needs --once[/red]")
                raise typer.Exit(2)
            try:
                fixed = clock.ensure_aware(datetime.fromisoformat(now))
            except ValueError as exc:
                console.print(f"[red]--now: not an ISO time: {now!r}[/red]")
                raise typer.Exit(2) from exc
        try:
            channels = from_settings()
        except ValueError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from exc
        dispatcher = Dispatcher(
            channels,
            batch_size=batch,
            lease=timedelta(seconds=lease),
            retry=RetryPolicy(
                max_attempts=retry_attempts,
                base=timedelta(seconds=retry_base),
                cap=timedelta(seconds=retry_cap),
            ),
            now=(lambda: fixed) if fixed else clock.now,  # type: ignore[return-value]
        )
        try:
            if once:
                stats = dispatcher.drain()
                summary = ", ".join(f"{k} {v}" for k, v in sorted(stats.outcomes.items()))
                console.print(f"claimed {stats.claimed}: {summary or 'nothing due'}")
                return
            stopping = False

            def stop(*_args: object) -> None:
                nonlocal stopping
                stopping = True

            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGINT, stop)
            console.print(
                f"worker {dispatcher.owner} running; channels: "
                f"{', '.join(channels) or 'none configured'}"
            )
            dispatcher.run_forever(idle_sleep=idle, stop=lambda: stopping, chores=Daily().tick)
        finally:
            dispatcher.close()
