"""(c) The delivery engine: enrolment of a million customers, dispatch throughput beside
the bare database doing the same state changes, worker memory at a million-touch
backlog, and the cost of one round in a small versus a large base.

Every figure comes from real processes on fresh databases (PostgreSQL
``touchflow_bench_engine``, SQLite ``var/bench/touchflow_bench_engine.sqlite3``):
``touchflow worker`` for the engine, ``python -m bench.engine_tool`` for set-up, timed
enrolment, timed rounds and the hand-written SQL baseline. Throughput is read from the
database: one timeline row is written per sent touch (by the engine and by the bare
SQL alike), so the growth of ``max(timeline_timelineevent.id)`` over a window (after a
warm-up) is touches sent per second.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg

from bench.databases import BIN, ROOT, VAR, env_for, fresh_database

WORKER = [str(BIN / "touchflow"), "worker", "--batch", "500", "--idle", "0.05"]
TOOL_TIMEOUT = 900


@dataclass
class Rate:
    what: str
    processes: int
    touches_per_s: float
    peak_rss_mb: float = 0.0
    # CPU a sent touch cost over the window, in µs: the measured processes' own, and the
    # database server's (every PostgreSQL process on the machine; 0 on SQLite, which
    # runs inside the workers). Where the time goes when the rate falls short.
    process_cpu_us: float = 0.0
    database_cpu_us: float = 0.0


@dataclass
class EngineResult:
    database: str
    customers: int
    setup_seconds: float = 0.0
    enroll_seconds: float = 0.0
    enrolled: int = 0
    memory: Rate | None = None
    rates: list[Rate] = field(default_factory=list)
    round_small: dict[str, Any] = field(default_factory=dict)
    round_large: dict[str, Any] = field(default_factory=dict)
    small_base: int = 0


def tool(url: str, *args: object) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "bench.engine_tool", *map(str, args)],
                          env=env_for(url), cwd=ROOT, check=True, capture_output=True,
                          text=True, timeout=TOOL_TIMEOUT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def kill_all(procs: list[subprocess.Popen[bytes]]) -> None:
    """Kill the benchmark's worker processes and wait for each."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
    for p in procs:
        p.wait(timeout=30)


def max_sent(url: str) -> int:
    """The newest timeline row: one is written per sent touch."""
    sql = "SELECT coalesce(max(id), 0) FROM timeline_timelineevent"
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///"), timeout=30) as conn:
            return int(conn.execute(sql).fetchone()[0])
    with psycopg.connect(url, connect_timeout=5) as conn:
        return int(conn.execute(sql).fetchone()[0])  # type: ignore[index]


def peak_rss_mb(pid: int) -> float:
    """VmHWM: the process's peak resident set so far, from /proc."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User and system CPU a process has used so far, from /proc (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu_seconds() -> float:
    """The CPU every PostgreSQL server process on this machine has used so far."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as comm:
                name = comm.read()
        except OSError:
            continue  # ended meanwhile
        if name.startswith("postgres"):
            total += cpu_seconds(int(entry))
    return total


def measure(url: str, what: str, argv: list[str], processes: int, seconds: float,
            channels: str = "sms=null:") -> Rate:
    """Start ``processes`` copies of ``argv``; once sending has begun, count sent touches
    over ``seconds``; kill them. Bounded: gives up after a 60 s warm-up."""
    env = {**env_for(url), "TOUCHFLOW_CHANNELS": channels}
    VAR.mkdir(parents=True, exist_ok=True)
    log = open(VAR / "engine-processes.log", "a")  # noqa: SIM115 - closed below
    log.write(f"--- {what}\n")
    log.flush()
    procs = [subprocess.Popen(argv, env=env, cwd=ROOT, stdout=log, stderr=log)
             for _ in range(processes)]
    try:
        start = max_sent(url)
        give_up = time.monotonic() + 60
        while max_sent(url) == start:
            if time.monotonic() > give_up or any(p.poll() is not None for p in procs):
                raise RuntimeError(f"{what}: nothing was sent (see {VAR}/engine-processes.log)")
            time.sleep(0.1)
        time.sleep(1.0)  # past the first round's template compilation and caches
        t0, m0 = time.monotonic(), max_sent(url)
        cpu0, db0 = sum(cpu_seconds(p.pid) for p in procs), server_cpu_seconds()
        time.sleep(seconds)
        t1, m1 = time.monotonic(), max_sent(url)
        cpu1, db1 = sum(cpu_seconds(p.pid) for p in procs), server_cpu_seconds()
        peak = max(peak_rss_mb(p.pid) for p in procs)
    finally:
        kill_all(procs)
        log.close()
    sent = max(m1 - m0, 1)
    return Rate(what, processes, round((m1 - m0) / (t1 - t0), 1), round(peak, 1),
                round(1e6 * (cpu1 - cpu0) / sent), round(1e6 * (db1 - db0) / sent))


def bench_engine(kind: str, customers: int, small: int, seconds: float,
                 repeat: int) -> EngineResult:
    workers = 2 if kind == "postgres" else 1  # SQLite: one embedded worker by design
    result = EngineResult(database=kind, customers=customers, small_base=small)
    bare = [sys.executable, "-m", "bench.engine_tool", "bare", "3600", "500"]
    with fresh_database(kind, "touchflow_bench_engine") as url:
        result.setup_seconds = tool(url, "setup", customers)["seconds"]
        enrolled = tool(url, "enroll")
        result.enroll_seconds, result.enrolled = enrolled["seconds"], enrolled["entered"]
        # Memory first, while the whole backlog (one touch per customer) is due.
        result.memory = measure(url, "engine → null, memory", WORKER, 1, 2 * seconds)
        for _ in range(repeat):
            result.rates.append(measure(url, "engine → null", WORKER, workers, seconds))
            result.rates.append(measure(url, "bare SQL", bare, workers, seconds))
        sink = subprocess.Popen([sys.executable, "-m", "bench.engine_sink"], cwd=ROOT,
                                stdout=subprocess.PIPE, text=True)
        try:
            assert sink.stdout is not None
            port = int(sink.stdout.readline())
            for _ in range(repeat):
                result.rates.append(measure(url, "engine → HTTP sink", WORKER, workers, seconds,
                                            f"sms=http://127.0.0.1:{port}/messages"))
        finally:
            sink.kill()
            sink.wait(timeout=10)
        result.round_large = tool(url, "round", 10_000, repeat)
    with fresh_database(kind, "touchflow_bench_engine_small") as url:
        tool(url, "setup", small)
        tool(url, "enroll")
        result.round_small = tool(url, "round", 10_000, repeat)
    return result


def _median(rates: list[Rate], what: str) -> tuple[float, list[float]]:
    values = [r.touches_per_s for r in rates if r.what == what]
    return (statistics.median(values) if values else 0.0), values


def _cpu(rates: list[Rate], what: str) -> str:
    """Median µs of CPU a touch: the measured processes', then the database's."""
    mine = [r.process_cpu_us for r in rates if r.what == what]
    server = [r.database_cpu_us for r in rates if r.what == what]
    if not mine:
        return "–"
    return f"{statistics.median(mine):.0f} + {statistics.median(server):.0f}"


def report(results: list[EngineResult]) -> str:
    lines = ["| database | customers | set-up, not timed (s) | enroll_many (s) | enrolled "
             "| enrolled/s |", "|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r.database} | {r.customers:,} | {r.setup_seconds} | "
                     f"{r.enroll_seconds} | {r.enrolled:,} | "
                     f"{r.enrolled / max(r.enroll_seconds, 1e-9):,.0f} |")
    lines += ["", "| database | workers | engine → null (touches/s) | bare SQL (touches/s) "
              "| engine / bare | engine → HTTP sink (touches/s) | runs |",
              "|---|---|---|---|---|---|---|"]
    cpu_lines = ["", "CPU a sent touch, µs (the workers' or bare SQL's processes + the "
                 "database server's):", "", "| database | engine → null | bare SQL "
                 "| engine → HTTP sink |", "|---|---|---|---|"]
    for r in results:
        null, nulls = _median(r.rates, "engine → null")
        bare, bares = _median(r.rates, "bare SQL")
        http, https = _median(r.rates, "engine → HTTP sink")
        workers = r.rates[0].processes if r.rates else 0
        lines.append(f"| {r.database} | {workers} | {null:,.0f} | {bare:,.0f} | "
                     f"{null / max(bare, 1e-9):.2f} | {http:,.0f} | null {nulls}; bare "
                     f"{bares}; http {https} |")
        cpu_lines.append(f"| {r.database} | {_cpu(r.rates, 'engine → null')} | "
                         f"{_cpu(r.rates, 'bare SQL')} | {_cpu(r.rates, 'engine → HTTP sink')} |")
    lines += cpu_lines
    lines += ["", "| database | backlog | worker peak RSS (MB) | one worker → null (touches/s) |",
              "|---|---|---|---|"]
    for r in results:
        if r.memory:
            lines.append(f"| {r.database} | {r.enrolled:,} | {r.memory.peak_rss_mb} | "
                         f"{r.memory.touches_per_s:,.0f} |")
    lines += ["", "| database | round of 10,000 due, base of | median (s) | runs (s) | "
              "rows in delivery_touch |", "|---|---|---|---|---|"]
    for r in results:
        for base, rnd in ((r.small_base, r.round_small), (r.customers, r.round_large)):
            lines.append(f"| {r.database} | {base:,} | {rnd.get('median_seconds')} | "
                         f"{rnd.get('seconds')} | {rnd.get('touches', 0):,} |")
        ratio = r.round_large.get("median_seconds", 0) / max(
            r.round_small.get("median_seconds", 0), 1e-9)
        lines.append(f"| {r.database} | ratio large / small | **{ratio:.2f}** | | |")
    return "\n".join(lines)


def as_json(results: list[EngineResult]) -> list[dict[str, Any]]:
    return [asdict(r) for r in results]


if __name__ == "__main__":
    kinds = sys.argv[1:] or ["sqlite", "postgres"]
    out = [bench_engine(k, int(os.environ.get("BENCH_CUSTOMERS", "1000000")), 100_000, 10, 3)
           for k in kinds]
    print(report(out))
