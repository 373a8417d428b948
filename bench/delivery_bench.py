"""Delivery at real-world speed (issue 9): ``touchflow worker`` processes sending to a
provider that answers after a set latency, measured at the provider.

A fresh database (PostgreSQL ``touchflow_bench_delivery`` or an SQLite file), the engine
bench's store and two-step chain (``bench.engine_tool setup`` and ``enroll``: one SMS
touch per customer, due at once), the latency provider (``bench.latency_provider``) on
a thread of the bench's process, and the channel pointed at it through TOUCHFLOW_CHANNELS
(``sms=http://127.0.0.1:PORT/sms?timeout=T[&rate=R]``). Two modes:

- throughput (default): K workers start on the whole backlog; after the first message
  reaches the provider and a warm-up, ``--repeat`` windows of ``--window`` seconds each
  count the messages the provider *took* (arrivals on the machine's monotonic clock,
  shared by all processes): touches/s, the most in any one-second window, and the
  workers' CPU. Duplicates (a key delivered twice) are counted over the whole run.
- lag (``--lag``): ``--per-minute`` touches fall due each minute, evenly spread, for
  ``--minutes``; the workers run until every one arrived (or a drain time passed); the
  lag of a touch is its arrival at the provider (wall clock) minus its ``due_at``.

``--rate R`` is passed on as ``&rate=R`` on the channel URL: the per-account limit
issue 9 adds; an engine that does not know it ignores it.
"""

from __future__ import annotations

import contextlib
import sqlite3
import statistics
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from bench.concurrency_probe import process_cpu
from bench.databases import BIN, ROOT, VAR, env_for, fresh_database
from bench.engine_bench import kill_all, tool
from bench.latency_provider import Behaviour, LatencyProvider, running

DATABASE = "touchflow_bench_delivery"
START_LIMIT = 120.0  # seconds to wait for the first message before giving up


@dataclass
class Options:
    db: str = "postgres"
    workers: int = 1
    latency: float = 0.1
    jitter: float = 0.0
    rate: float | None = None
    timeout: float = 5.0
    fail: float = 0.0
    stall: float = 10.0
    batch: int = 500
    idle: float = 0.05
    customers: int = 60_000
    warmup: float = 5.0
    window: float = 20.0
    repeat: int = 1
    lag: bool = False
    per_minute: int = 1000
    minutes: float = 3.0
    lead_in: float = 10.0
    drain: float = 60.0
    worker_args: list[str] = field(default_factory=list)


@dataclass
class Window:
    seconds: float
    delivered: int
    per_second: float
    max_per_second: int
    worker_cpu_seconds: float


@dataclass
class DeliveryResult:
    options: dict[str, Any]
    channels: str
    setup_seconds: float = 0.0
    windows: list[Window] = field(default_factory=list)
    delivered: int = 0
    requests: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    duplicate_keys: int = 0
    duplicate_messages: int = 0
    max_per_second_overall: int = 0
    ran_dry: bool = False
    lag: dict[str, Any] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return statistics.median(w.per_second for w in self.windows) if self.windows else 0.0


# -- the provider and the workers ---------------------------------------------------------


@contextmanager
def provider(o: Options) -> Iterator[tuple[LatencyProvider, str]]:
    """The latency provider on a thread of this process, which otherwise only sleeps and
    polls; yields it and its base URL. A thread, not a process: a broad ``pkill -f
    bench.latency_provider`` run elsewhere on a shared machine cannot end it mid-run."""
    behaviour = Behaviour(latency=o.latency, jitter=o.jitter, fail=o.fail, stall=o.stall)
    with running(behaviour) as served:
        yield served


def channel_spec(base: str, o: Options) -> str:
    spec = f"sms={base}/sms?timeout={o.timeout:g}"
    return spec + (f"&rate={o.rate:g}" if o.rate else "")


@contextmanager
def workers(url: str, channels: str, o: Options) -> Iterator[list[subprocess.Popen[bytes]]]:
    env = {**env_for(url), "TOUCHFLOW_CHANNELS": channels}
    argv = [str(BIN / "touchflow"), "worker", "--batch", str(o.batch), "--idle", str(o.idle),
            *o.worker_args]
    VAR.mkdir(parents=True, exist_ok=True)
    with open(VAR / "delivery-workers.log", "ab") as log:
        log.write(f"--- {datetime.now(UTC).isoformat()} {channels} {argv}\n".encode())
        log.flush()
        procs = [subprocess.Popen(argv, env=env, cwd=ROOT, stdout=log, stderr=log)
                 for _ in range(o.workers)]
        try:
            yield procs
        finally:
            kill_all(procs)


def cpu_seconds(procs: list[subprocess.Popen[bytes]]) -> float:
    total = 0.0
    for p in procs:
        with contextlib.suppress(OSError):  # exited: the run reports it
            total += process_cpu(p.pid)
    return total


def _alive(procs: list[subprocess.Popen[bytes]]) -> None:
    if any(p.poll() is not None for p in procs):
        raise RuntimeError(f"a worker exited (see {VAR}/delivery-workers.log)")


# -- throughput ---------------------------------------------------------------------------


def wait_for_first(sink: LatencyProvider, procs: list[subprocess.Popen[bytes]]) -> None:
    give_up = time.monotonic() + START_LIMIT
    while sink.stats()["delivered"] == 0:
        _alive(procs)
        if time.monotonic() > give_up:
            raise RuntimeError(f"nothing reached the provider in {START_LIMIT:.0f} s "
                               f"(see {VAR}/delivery-workers.log)")
        time.sleep(0.2)


def measure_windows(sink: LatencyProvider, procs: list[subprocess.Popen[bytes]], o: Options,
                    result: DeliveryResult) -> None:
    wait_for_first(sink, procs)
    time.sleep(o.warmup)
    for _ in range(o.repeat):
        t0, c0 = time.monotonic(), cpu_seconds(procs)
        time.sleep(o.window)
        t1, c1 = time.monotonic(), cpu_seconds(procs)
        _alive(procs)
        s = sink.stats(t0, t1)
        result.windows.append(Window(round(t1 - t0, 2), s["delivered"], s["per_second"],
                                     s["max_per_second"], round(c1 - c0, 2)))
        # The backlog ran out inside the window: its rate says nothing.
        if s["last"] is None or s["last"] < t1 - 1.0:
            result.ran_dry = True


# -- lag ----------------------------------------------------------------------------------


def spread(url: str, per_minute: int, start: datetime) -> int:
    """Queued touches fall due one after another from ``start``, ``per_minute`` a
    minute, in id order; return how many."""
    gap = 60.0 / per_minute
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///"), timeout=60) as conn:
            ids = [r[0] for r in conn.execute(
                "SELECT id FROM delivery_touch WHERE state = 'queued' ORDER BY id")]
            conn.executemany("UPDATE delivery_touch SET due_at = ? WHERE id = ?", [
                (_sqlite_time(start + timedelta(seconds=i * gap)), touch)
                for i, touch in enumerate(ids)])
        return len(ids)
    with psycopg.connect(url, connect_timeout=5) as conn:
        done = conn.execute(
            "UPDATE delivery_touch t SET due_at = %s + r.n * make_interval(secs => %s) "
            "FROM (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM delivery_touch "
            "WHERE state = 'queued') r WHERE t.id = r.id", [start, gap])
        conn.execute("ANALYZE delivery_touch")
        return done.rowcount


def _sqlite_time(value: datetime) -> str:
    """How Django stores an aware datetime in SQLite: naive UTC text."""
    return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def due_times(url: str) -> dict[str, float]:
    """Idempotency key → due_at as Unix time, of every first-step touch."""
    sql = ("SELECT t.idempotency_key, t.due_at FROM delivery_touch t JOIN flows_flowstep s "
           "ON s.id = t.step_id WHERE s.position = (SELECT min(position) FROM flows_flowstep "
           "WHERE flow_id = s.flow_id)")
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///"), timeout=60) as conn:
            return {k: datetime.fromisoformat(d).replace(tzinfo=UTC).timestamp()
                    for k, d in conn.execute(sql)}
    with psycopg.connect(url, connect_timeout=5) as conn:
        return {k: d.timestamp() for k, d in conn.execute(sql)}  # type: ignore[misc]


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile: the smallest value with ``share`` of them at or below."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(-(-share * len(ordered) // 1)) - 1))]


def lag_summary(arrivals: list[list[Any]], due: dict[str, float]) -> dict[str, Any]:
    """From the provider's ``[at, wall, key]`` records and the due times: the lag of each
    touch's first arrival."""
    first: dict[str, float] = {}
    for _, wall, key in arrivals:
        if key in due:
            first[key] = min(first.get(key, wall), wall)
    lags = [wall - due[key] for key, wall in first.items()]
    if not lags:
        return {"touches": len(due), "arrived": 0}
    return {"touches": len(due), "arrived": len(lags),
            "p50_s": round(percentile(lags, 0.50), 3), "p95_s": round(percentile(lags, 0.95), 3),
            "p99_s": round(percentile(lags, 0.99), 3), "max_s": round(max(lags), 3),
            "min_s": round(min(lags), 3)}


def measure_lag(url: str, sink: LatencyProvider, procs: list[subprocess.Popen[bytes]],
                o: Options, count: int, last_due: float, result: DeliveryResult) -> None:
    give_up = last_due + o.drain
    while time.time() < give_up:
        _alive(procs)
        if sink.stats()["keys"] >= count:
            break
        time.sleep(1.0)
    result.lag = lag_summary(sink.delivered_records(), due_times(url))


# -- one run ------------------------------------------------------------------------------


def bench_delivery(o: Options) -> DeliveryResult:
    customers = round(o.per_minute * o.minutes) if o.lag else o.customers
    with fresh_database(o.db, DATABASE) as url, provider(o) as (sink, base):
        channels = channel_spec(base, o)
        result = DeliveryResult(options=asdict(o), channels=channels)
        started = time.perf_counter()
        tool(url, "setup", customers)
        tool(url, "enroll")
        result.setup_seconds = round(time.perf_counter() - started, 1)
        if o.lag:
            start = datetime.now(UTC) + timedelta(seconds=o.lead_in)
            count = spread(url, o.per_minute, start)
            last_due = start.timestamp() + count * 60.0 / o.per_minute
        with workers(url, channels, o) as procs:
            if o.lag:
                measure_lag(url, sink, procs, o, count, last_due, result)
            else:
                measure_windows(sink, procs, o, result)
        whole = sink.stats()
    result.delivered, result.requests = whole["delivered"], whole["requests"]
    result.outcomes = whole["outcomes"]
    result.duplicate_keys = whole["duplicate_keys"]
    result.duplicate_messages = whole["duplicate_messages"]
    result.max_per_second_overall = whole["max_per_second"]
    return result


def report(results: list[DeliveryResult]) -> str:
    lines: list[str] = []
    through = [r for r in results if not r.options["lag"]]
    if through:
        lines += ["| database | workers | latency (ms) | rate | touches/s at the provider "
                  "(median) | windows (touches/s) | max in any 1 s | worker CPU (% of a core) "
                  "| duplicates | ran dry |", "|---|---|---|---|---|---|---|---|---|---|"]
        for r in through:
            o = r.options
            cpu = statistics.median(100 * w.worker_cpu_seconds / w.seconds for w in r.windows)
            lines.append(
                f"| {o['db']} | {o['workers']} | {o['latency'] * 1000:.0f} | "
                f"{format(o['rate'], 'g') if o['rate'] else '–'} | {r.per_second:,.1f} | "
                f"{', '.join(f'{w.per_second:,.1f}' for w in r.windows)} | "
                f"{max(w.max_per_second for w in r.windows)} | {cpu:.0f} | "
                f"{r.duplicate_keys} | {'yes' if r.ran_dry else 'no'} |")
    lagged = [r for r in results if r.options["lag"]]
    if lagged:
        lines += ["" if lines else "", "| database | workers | latency (ms) | due per minute "
                  "| touches | arrived | lag p50 (s) | p95 (s) | p99 (s) | max (s) "
                  "| duplicates |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in lagged:
            o, lag = r.options, r.lag
            lines.append(
                f"| {o['db']} | {o['workers']} | {o['latency'] * 1000:.0f} | "
                f"{o['per_minute']:,} | {lag.get('touches', 0):,} | {lag.get('arrived', 0):,} "
                f"| {lag.get('p50_s', '–')} | {lag.get('p95_s', '–')} | {lag.get('p99_s', '–')} "
                f"| {lag.get('max_s', '–')} | {r.duplicate_keys} |")
    return "\n".join(line for line in lines if line is not None).lstrip("\n")


def as_json(results: list[DeliveryResult]) -> list[dict[str, Any]]:
    return [{**asdict(r), "per_second": r.per_second} for r in results]
