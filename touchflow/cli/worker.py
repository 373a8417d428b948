"""``touchflow worker``: the delivery dispatcher."""

from __future__ import annotations

import functools
import signal
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import typer
from django.db.backends.signals import connection_created
from rich.console import Console
from rich.markup import escape

from touchflow.core import clock, logs
from touchflow.delivery import ratelimit, readiness
from touchflow.delivery.dispatcher import Dispatcher
from touchflow.delivery.metrics import LogSummary, Metrics, queue_due_now_closing, serve
from touchflow.delivery.retry import RetryPolicy
from touchflow.health import daily as health_daily
from touchflow.messaging import alerts, notices
from touchflow.messaging.outbound import from_settings
from touchflow.privacy.retention import Daily
from touchflow.timeline import figures

if TYPE_CHECKING:
    from touchflow.delivery.channels.base import Channel
    from touchflow.delivery.metrics import Metrics

console = Console()
errors = Console(stderr=True, soft_wrap=True)


def register(app: typer.Typer) -> None:
    @app.command()
    @_abandoned_transactions_end
    def worker(
        once: bool = typer.Option(False, "--once", help="Process what is due, then exit."),
        now: str = typer.Option(
            None, "--now", help="With --once: act as if it were this ISO time (simulations)."
        ),
        batch: int = typer.Option(500, help="Touches claimed per round."),
        concurrency: int = typer.Option(
            200, help="Sends kept in flight at once by this worker (each on its own thread)."
        ),
        per_account: int = typer.Option(
            200, help="Sends in flight at once to one provider account or channel."
        ),
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
        metrics_port: int = typer.Option(
            0, envvar="TOUCHFLOW_METRICS_PORT",
            help="Serve Prometheus metrics on this port at /metrics (0: off).",
        ),
        metrics_host: str = typer.Option(
            "127.0.0.1", envvar="TOUCHFLOW_METRICS_HOST",
            help="Address the metrics port listens on (0.0.0.0 for a scraper elsewhere).",
        ),
        log_format: str = typer.Option(
            "text", envvar="TOUCHFLOW_LOG_FORMAT",
            help="text, or json: one JSON object per line (time, level, logger, message, "
            "and the record's extra fields).",
        ),
    ) -> None:
        """Send due touches: claim, apply the policies, render, send, record, schedule.

        Run as many as you like against PostgreSQL; on SQLite run one.
        """
        try:
            logs.configure(log_format)
        except ValueError as exc:
            console.print(f"[red]{escape(str(exc))}[/red]")
            raise typer.Exit(2) from exc
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
        _check_channels(channels, once)
        metrics, stop_metrics = _serve_metrics(metrics_port, metrics_host)
        dispatcher = Dispatcher(
            channels,
            batch_size=batch,
            concurrency=concurrency,
            per_route=per_account,
            lease=timedelta(seconds=lease),
            retry=RetryPolicy(
                max_attempts=retry_attempts,
                base=timedelta(seconds=retry_base),
                cap=timedelta(seconds=retry_cap),
            ),
            now=(lambda: fixed) if fixed else clock.now,
            metrics=metrics,
            # Provider rate limits are about real seconds: a simulated moment (--now)
            # sends as fast as it can.
            limiter=None if fixed else ratelimit.for_database(),
        )
        try:
            if once:
                alerts.tick(fixed)  # managers' alerts, STOP confirmations, webhook answers
                stats = dispatcher.drain()
                summary = ", ".join(f"{k} {v}" for k, v in sorted(stats.outcomes.items()))
                console.print(f"claimed {stats.claimed}: {summary or 'nothing due'}")
                if stats.waiting:
                    stores = ", ".join(sorted(stats.missing))
                    errors.print(
                        f"[yellow]{stats.waiting} of them wait in the queue for a channel "
                        f"(stores: {escape(stores)}).[/yellow]"
                    )
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
            daily, lag_log, answers = Daily(), LogSummary(metrics), notices.Chore(job=alerts.tick)
            counted = figures.Folding()
            health = health_daily.Daily()

            def chores() -> None:
                daily.tick()
                health.tick()  # relationship health: at most one due store per round
                lag_log.tick()
                answers()
                counted.tick()

            dispatcher.run_forever(idle_sleep=idle, stop=lambda: stopping, chores=chores)
        finally:
            dispatcher.close()
            stop_metrics()


def _abandoned_transactions_end(command: Callable[..., None]) -> Callable[..., None]:
    """The worker command, during which every PostgreSQL connection it opens has the
    server end a transaction left idle longer than the lease (``--lease``).

    A worker cut off the network while it records answers leaves its transaction open on
    the server, holding those rows: other workers skip locked rows, so nobody could take
    the touches over until TCP gave up on the dead client, hours later. A worker's own
    transactions never wait between two statements (they hold no network call), so one
    idle that long has lost its worker, and its claims are free to take after the lease
    anyway. Only connections opened meanwhile: a caller's own (a test's) is left be.
    """
    @functools.wraps(command)
    def run(**options: Any) -> None:
        with _idle_transactions_limited(float(options["lease"])):
            command(**options)

    return run


@contextmanager
def _idle_transactions_limited(lease: float) -> Iterator[None]:

    timeout = f"{max(1000, round(lease * 1000))}ms"

    def limit(sender: object, connection: Any, **kwargs: object) -> None:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('idle_in_transaction_session_timeout', %s, false)",
                    [timeout],
                )

    connection_created.connect(limit, weak=False)
    try:
        yield
    finally:
        connection_created.disconnect(limit)


def _serve_metrics(port: int, host: str) -> tuple[Metrics, Callable[[], None]]:
    """The worker's metrics (kept even without a port: the log summary reads them), and
    what stops their /metrics endpoint, started when a port is given; exit 2 naming the
    option when the port cannot be had."""
    metrics = Metrics()
    if not port:
        return metrics, lambda: None
    try:
        server = serve(metrics, port, host, queue_depth=queue_due_now_closing)
    except OSError as exc:
        errors.print(f"[red]--metrics-port: cannot listen on {host}:{port}: {exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"metrics on http://{host}:{server.server_address[1]}/metrics")

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return metrics, stop


def _check_channels(channels: Mapping[str, Channel], once: bool) -> None:
    """Say loudly which stores cannot send which steps of the active chains; their
    touches wait in the queue (never skipped) until a channel is configured.

    A one-off run (``--once``) with no channel at all refuses instead: it could send
    nothing, and would only move the queue's due times to the time it acts at.
    """
    gaps = readiness.gaps(channels)
    if not gaps:
        return
    lines = "\n".join(f"  {escape(str(gap))}" for gap in gaps)
    if once and readiness.nothing_usable(channels):
        errors.print(
            "[red]No channel is configured, so nothing the active chains send could go "
            f"out; nothing was done.[/red]\n{lines}\n{escape(readiness.HOW_TO_FIX)}"
        )
        raise typer.Exit(2)
    errors.print(
        "[yellow]No channel configured for these steps: their touches wait in the queue "
        f"until one is.[/yellow]\n{lines}\n{escape(readiness.HOW_TO_FIX)}"
    )
