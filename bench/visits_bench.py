"""(b) ``POST /api/v1/visits`` under concurrent load, served by the production server.

gunicorn (``touchflow serve``) on 127.0.0.1 and a fresh database; Debian's ``wrk``
drives it (a C load generator, so the client takes little of the 2 cores), with
``visits.lua`` making the bodies. Each level runs for a fixed time.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.databases import BIN, env_for, fresh_database, helper

LUA = Path(__file__).with_name("visits.lua")


@dataclass
class LoadResult:
    database: str
    workers: int
    connections: int
    seconds: float
    requests: int
    per_second: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    non_2xx: int
    socket_errors: int
    visits_in_db: int


def ensure_wrk() -> str:
    """Debian's wrk; installed with apt-get if missing (a package registry, allowed)."""
    found = shutil.which("wrk")
    if found:
        return found
    subprocess.run(["apt-get", "update", "-qq"], check=True, timeout=300)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, timeout=300)
    return shutil.which("wrk") or "wrk"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``touchflow serve`` in its own process group, so stopping it stops every worker."""

    def __init__(self, url: str, workers: int, app: str = "") -> None:
        """``app``: a WSGI application (``module:name``) for gunicorn, started as
        ``touchflow serve`` starts it; none: ``touchflow serve`` itself."""
        self.port = free_port()
        argv = [str(BIN / "touchflow"), "serve", "--no-migrate", "--no-worker",
                "--port", str(self.port), "--workers", str(workers)]
        if app:
            from touchflow.cli.run import gunicorn_argv

            argv = gunicorn_argv("127.0.0.1", self.port, workers, app)
        self.proc = subprocess.Popen(
            argv, env=env_for(url), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited: {self.proc.stderr.read().decode()}")  # type: ignore[union-attr]
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/v1/openapi.json",
                                       timeout=2).read()
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        raise RuntimeError("the server did not answer within 30 s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)


def run_wrk(wrk: str, port: int, script_args: list[str], connections: int,
            seconds: int, lua: Path = LUA) -> dict[str, int]:
    """wrk with ``lua`` (its ``done`` prints a BENCH_JSON line) and the script's args."""
    threads = min(2, connections)
    argv = [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
            "-s", str(lua), f"http://127.0.0.1:{port}", "--", *script_args]
    out = subprocess.run(argv, capture_output=True, text=True, check=True,
                         timeout=seconds + 60).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("BENCH_JSON "))
    return json.loads(line.removeprefix("BENCH_JSON "))  # type: ignore[no-any-return]


def bench_visits(kind: str, workers: int, levels: list[int], seconds: int) -> list[LoadResult]:
    wrk = ensure_wrk()
    results = []
    with fresh_database(kind, "touchflow_bench") as url:
        token = json.loads(helper(url, "visit-setup"))["token"]
        server = Server(url, workers)
        try:
            server.wait_ready()
            run_wrk(wrk, server.port, [token, "0"], 4, 3)  # warm-up: imports, connections
            before = _visits(url)
            for run, connections in enumerate(levels, start=1):
                raw = run_wrk(wrk, server.port, [token, str(run)], connections, seconds)
                after = _visits(url)
                results.append(_result(kind, workers, connections, raw, after - before))
                before = after
        finally:
            server.stop()
    return results


def _visits(url: str) -> int:
    return int(json.loads(helper(url, "counts"))["visits_visit"])


def _result(kind: str, workers: int, connections: int, raw: dict[str, int],
            visits: int) -> LoadResult:
    secs = raw["duration_us"] / 1e6
    return LoadResult(
        database=kind, workers=workers, connections=connections, seconds=round(secs, 1),
        requests=raw["requests"], per_second=round(raw["requests"] / secs, 1),
        p50_ms=raw["p50_us"] / 1000, p90_ms=raw["p90_us"] / 1000, p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000, non_2xx=raw["non_2xx"],
        socket_errors=raw["connect_errors"] + raw["read_errors"] + raw["write_errors"]
        + raw["timeouts"],
        visits_in_db=visits,
    )


def report(results: list[LoadResult]) -> str:
    lines = ["| database | workers | connections | requests | visits/s | p50 ms | p90 ms "
             "| p99 ms | max ms | non-2xx | socket errors | visits in DB |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r.database} | {r.workers} | {r.connections} | {r.requests} | "
                     f"{r.per_second} | {r.p50_ms:.1f} | {r.p90_ms:.1f} | {r.p99_ms:.1f} | "
                     f"{r.max_ms:.1f} | {r.non_2xx} | {r.socket_errors} | {r.visits_in_db} |")
    return "\n".join(lines)


def as_json(results: list[LoadResult]) -> list[dict[str, object]]:
    return [asdict(r) for r in results]
