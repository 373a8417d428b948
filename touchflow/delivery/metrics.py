"""What a delivery worker has done, for Prometheus to scrape (issue 9, Operations).

Hand-written in the Prometheus text exposition format 0.0.4 instead of a client
library: a handful of counters, one gauge and one histogram do not justify a
dependency. One ``Metrics`` per worker process; the dispatcher's thread records, the
HTTP server's thread renders, so every access holds one lock.

What it exposes:

- ``touchflow_sends_total{provider,account}`` — touches a provider accepted;
- ``touchflow_send_failures_total{provider,account,kind}`` — kind is retry, dead,
  uncertain or rejected;
- ``touchflow_rate_limit_wait_seconds_total{provider,account}`` — time spent waiting
  for a provider's rate limit;
- ``touchflow_send_lag_seconds`` (histogram) — from a touch's due time to its send;
  ``histogram_quantile(0.99, rate(touchflow_send_lag_seconds_bucket[5m]))`` is p99;
- ``touchflow_in_flight`` — requests out to providers right now;
- ``touchflow_queue_due`` — touches queued and due now, counted at scrape time (see
  ``serve``).

Rates (sends per second) are Prometheus's to compute: ``rate(touchflow_sends_total[1m])``.
"""

from __future__ import annotations

import bisect
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.db import connection

from touchflow.core import clock

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Seconds from due to sent: a healthy worker sends within a fraction of a second of a
# touch's due time; a backlog shows as minutes; an hour means the queue is stuck.
LAG_BUCKETS: tuple[float, ...] = (
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
    3600.0,
)

FAILURE_KINDS = ("retry", "dead", "uncertain", "rejected")
# A failure named by the touch's new state: a touch that will be retried is queued again.
KIND_OF_STATE = {"queued": "retry"}

Labels = tuple[tuple[str, str], ...]


def escape_label(value: str) -> str:
    """A label value as the format wants it: backslash, double quote and line feed escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_help(text: str) -> str:
    """HELP text escapes only backslash and line feed."""
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def number(value: float) -> str:
    """A sample value: integers without a decimal point, infinities as +Inf/-Inf."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def sample(name: str, labels: Labels, value: float) -> str:
    if not labels:
        return f"{name} {number(value)}"
    inner = ",".join(f'{key}="{escape_label(val)}"' for key, val in labels)
    return f"{name}{{{inner}}} {number(value)}"


def header(name: str, kind: str, help_text: str) -> list[str]:
    return [f"# HELP {name} {escape_help(help_text)}", f"# TYPE {name} {kind}"]


class Histogram:
    """Cumulative-bucket histogram (not thread-safe by itself: ``Metrics`` locks)."""

    def __init__(self, bounds: Iterable[float]) -> None:
        self.bounds = tuple(sorted(bounds))
        self.counts = [0] * (len(self.bounds) + 1)  # the last is +Inf
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def cumulative(self) -> list[int]:
        total, out = 0, []
        for count in self.counts:
            total += count
            out.append(total)
        return out

    def quantile(self, q: float) -> float | None:
        """The q-quantile estimated the way Prometheus's ``histogram_quantile`` does:
        linear inside the bucket that holds it, the highest finite bound when it falls
        in +Inf. None without observations."""
        if not 0 <= q <= 1:
            raise ValueError(f"q: must be between 0 and 1, not {q}")
        if self.count == 0:
            return None
        rank = q * self.count
        cumulative = self.cumulative()
        index = bisect.bisect_left(cumulative, rank)
        if index >= len(self.bounds):
            return self.bounds[-1]
        lower = self.bounds[index - 1] if index > 0 else 0.0
        below = cumulative[index - 1] if index > 0 else 0
        in_bucket = cumulative[index] - below
        if in_bucket == 0:
            return self.bounds[index]
        return lower + (self.bounds[index] - lower) * (rank - below) / in_bucket

    def render(self, name: str) -> list[str]:
        lines = []
        cumulative = self.cumulative()
        for bound, count in zip((*self.bounds, math.inf), cumulative, strict=True):
            lines.append(sample(f"{name}_bucket", (("le", number(bound)),), count))
        lines.append(sample(f"{name}_sum", (), self.sum))
        lines.append(sample(f"{name}_count", (), self.count))
        return lines


class Metrics:
    """A worker's counters. Safe to call from any thread."""

    def __init__(self, lag_buckets: Iterable[float] = LAG_BUCKETS) -> None:
        self._lock = threading.Lock()
        self._sends: dict[Labels, float] = {}
        self._failures: dict[Labels, float] = {}
        self._rate_waits: dict[Labels, float] = {}
        self._in_flight = 0
        self._lag = Histogram(lag_buckets)
        self.lag_bounds = self._lag.bounds

    # -- recording (the dispatcher) -------------------------------------------------

    def sent(self, account: str, lag_seconds: float, *, provider: str = "") -> None:
        """A provider accepted a touch ``lag_seconds`` after it was due (a touch sent
        early, by a clock skew, counts as no lag)."""
        with self._lock:
            _add(self._sends, _account(provider, account), 1)
            self._lag.observe(max(lag_seconds, 0.0))

    def failed(self, account: str, kind: str, *, provider: str = "") -> None:
        """A send that did not succeed; ``kind`` says what became of the touch: retry,
        dead, uncertain or rejected. A touch's new state is taken too ("queued" counts
        as a retry), and any other word is counted under its own name: a metric never
        raises where a send is being recorded."""
        kind = KIND_OF_STATE.get(kind, kind)
        with self._lock:
            _add(self._failures, (*_account(provider, account), ("kind", kind)), 1)

    def rate_waited(self, account: str, seconds: float, *, provider: str = "") -> None:
        """Time spent waiting before a send because of the account's rate limit."""
        with self._lock:
            _add(self._rate_waits, _account(provider, account), max(seconds, 0.0))

    def in_flight(self, n: int) -> None:
        """How many requests are out to providers now (a gauge: set, not added)."""
        with self._lock:
            self._in_flight = n

    # -- reading ---------------------------------------------------------------------

    def lag_quantile(self, q: float) -> float | None:
        """p50 (q=0.5) or p99 (q=0.99) of the lag since start, for a log line; the same
        estimate Prometheus computes from the buckets."""
        with self._lock:
            return self._lag.quantile(q)

    def totals(self) -> tuple[float, float, list[int]]:
        """Sends, failures and the lag histogram's bucket counts so far (for
        ``LogSummary``, which reports the difference between two of these)."""
        with self._lock:
            return (sum(self._sends.values()), sum(self._failures.values()),
                    list(self._lag.counts))

    def render(self, queue_due: int | None = None) -> str:
        """Every metric in the text format; ``queue_due`` is left out when None."""
        with self._lock:
            lines = [
                *header("touchflow_sends_total", "counter",
                        "Touches a provider accepted, by provider account."),
                *_samples("touchflow_sends_total", self._sends),
                *header("touchflow_send_failures_total", "counter",
                        "Sends that failed, by provider account and what became of the "
                        "touch (retry, dead, uncertain, rejected)."),
                *_samples("touchflow_send_failures_total", self._failures),
                *header("touchflow_rate_limit_wait_seconds_total", "counter",
                        "Seconds spent waiting for a provider account's rate limit."),
                *_samples("touchflow_rate_limit_wait_seconds_total", self._rate_waits),
                *header("touchflow_send_lag_seconds", "histogram",
                        "Seconds from a touch's due time to its send."),
                *self._lag.render("touchflow_send_lag_seconds"),
                *header("touchflow_in_flight", "gauge", "Requests out to providers now."),
                sample("touchflow_in_flight", (), self._in_flight),
            ]
        if queue_due is not None:
            lines += [
                *header("touchflow_queue_due", "gauge",
                        f"Touches queued and due now (counted up to {QUEUE_COUNT_CAP})."),
                sample("touchflow_queue_due", (), queue_due),
            ]
        return "\n".join(lines) + "\n"


class LogSummary:
    """One INFO line every ``every`` seconds on what the worker did since the last one
    (sends, failures, lag p50/p99, with the same numbers as extra fields for JSON
    logs): for a deployment that reads logs and runs no Prometheus. Silent while the
    worker is idle. A worker chore: cheap, and never raises."""

    def __init__(
        self, metrics: Metrics, every: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.metrics = metrics
        self.every = every
        self.monotonic = monotonic
        self._last = metrics.totals()
        self._due = monotonic() + every

    def tick(self) -> None:
        if self.monotonic() < self._due:
            return
        self._due = self.monotonic() + self.every
        now = self.metrics.totals()
        sends, failures = now[0] - self._last[0], now[1] - self._last[1]
        window = Histogram(self.metrics.lag_bounds)
        window.counts = [a - b for a, b in zip(now[2], self._last[2], strict=True)]
        window.count = sum(window.counts)
        self._last = now
        if not sends and not failures:
            return
        p50, p99 = window.quantile(0.5), window.quantile(0.99)
        log.info(
            "%d sent, %d failed in the last %d s; lag from due to sent p50 %s, p99 %s",
            sends, failures, self.every, _seconds(p50), _seconds(p99),
            extra={"sent": int(sends), "failed": int(failures), "lag_p50": p50,
                   "lag_p99": p99},
        )


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def _account(provider: str, account: str) -> Labels:
    return (("provider", provider), ("account", account))


def _add(series: dict[Labels, float], labels: Labels, amount: float) -> None:
    series[labels] = series.get(labels, 0) + amount


def _samples(name: str, series: dict[Labels, float]) -> list[str]:
    return [sample(name, labels, value) for labels, value in sorted(series.items())]


# -- the queue's depth -----------------------------------------------------------------

# Counting stops here: past it the exact number does not change what anyone does, and a
# count over a million-row backlog on every scrape would cost the database seconds.
QUEUE_COUNT_CAP = 100_000


def queue_due_now(now: datetime | None = None, cap: int = QUEUE_COUNT_CAP) -> int:
    """Touches queued and due at ``now`` (default: the clock's), exact up to ``cap``
    (then ``cap``): a range read of the partial index ``touch_queued_due`` that the
    LIMIT stops, so a scrape costs at most ``cap`` index entries however long the
    backlog."""
    when = connection.ops.adapt_datetimefield_value(now or clock.now())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM (SELECT 1 FROM delivery_touch "
            "WHERE state = 'queued' AND due_at <= %s LIMIT %s) due",
            [when, cap],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def queue_due_now_closing() -> int:
    """``queue_due_now`` for the scrape thread: Django gives each thread its own
    connection, which nothing else would close, so this one closes it after use."""
    try:
        return queue_due_now()
    finally:
        connection.close()


# -- the HTTP endpoint -------------------------------------------------------------------


def serve(
    metrics: Metrics,
    port: int,
    host: str = "127.0.0.1",
    queue_depth: Callable[[], int] | None = None,
) -> ThreadingHTTPServer:
    """Answer ``GET /metrics`` on ``host:port`` from a daemon thread; returns the server
    (``server.server_address`` has the port when 0 was asked; ``shutdown()`` stops it).

    ``queue_depth`` runs on every scrape, in the server's thread; when it fails, the
    scrape still answers without the queue gauge (and the failure is logged).
    """
    server = ThreadingHTTPServer((host, port), _handler(metrics, queue_depth))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
    thread.start()
    return server


def _handler(
    metrics: Metrics, queue_depth: Callable[[], int] | None
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            if self.path.split("?", 1)[0] != "/metrics":
                self.send_error(404, "only /metrics is here")
                return
            body = metrics.render(_depth(queue_depth)).encode()
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            # A scrape every 15 s is not news; errors still go through log_error.
            return

        def log_error(self, format: str, *args: object) -> None:  # noqa: A002
            log.warning("metrics endpoint: " + format, *args)

    return Handler


def _depth(queue_depth: Callable[[], int] | None) -> int | None:
    if queue_depth is None:
        return None
    try:
        return queue_depth()
    except Exception:  # noqa: BLE001 - a scrape answers even when the database does not
        log.exception("metrics: could not count the queue")
        return None
