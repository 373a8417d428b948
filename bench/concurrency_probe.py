"""``python -m bench.concurrency_probe``: how to keep many sends in flight, measured.

Decision 0016 chooses how the delivery engine keeps ~100 requests in flight. This
probe sends N requests to the latency provider (``bench.latency_provider``, in a
process of its own so it does not share the client's CPU or GIL) with the same number
in flight, three ways:

- ``threads + httpx.Client``: a ThreadPoolExecutor, one shared httpx.Client (its pool
  is thread-safe) sized to the threads;
- ``threads + httpx.Client (one per thread)``: the same with a client of its own per
  thread (a pool of one connection: what a provider adapter would be per thread);
- ``threads + http.client``: a ThreadPoolExecutor, one http.client connection per
  thread (what the webhook channel does today, once per thread);
- ``asyncio + httpx.AsyncClient``: one event loop, that many tasks;

plus, for scale, one connection one request at a time (today's engine), on fewer
requests. For each: requests/s, and the CPU seconds the client process spent per 1,000
requests (user + system, all threads), the provider's CPU beside it. Median of
``--repeat`` runs; every run checks the provider took every request exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from bench.databases import ROOT

TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    way: str
    requests: int
    in_flight: int
    seconds: float
    client_cpu: float
    provider_cpu: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_per_1000(self) -> float:
        return self.client_cpu / self.requests * 1000


@contextmanager
def provider_process(latency: float) -> Iterator[tuple[str, int]]:
    """``python -m bench.latency_provider`` in its own process; yields base URL and pid."""
    proc = subprocess.Popen([sys.executable, "-m", "bench.latency_provider", "--latency",
                             str(latency)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip(), proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def stats(base: str, since: float | None = None) -> dict[str, Any]:
    query = f"?since={since}" if since is not None else ""
    with urllib.request.urlopen(f"{base}/stats{query}", timeout=30) as answer:
        return dict(json.loads(answer.read()))


def process_cpu(pid: int) -> float:
    """User + system seconds of process ``pid`` so far, from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _body(run: str, i: int) -> tuple[bytes, dict[str, str]]:
    key = f"{run}-{i}"
    body = json.dumps({"idempotency_key": key, "channel": "sms", "to": f"+44770{i:07d}",
                       "text": "Hello, thank you for visiting Bench store."}).encode()
    return body, {"Content-Type": "application/json", "Idempotency-Key": key}


def threads_httpx(url: str, run: str, n: int, flight: int) -> None:
    limits = httpx.Limits(max_connections=flight, max_keepalive_connections=flight)
    with httpx.Client(timeout=10, limits=limits) as client:

        def send(i: int) -> None:
            body, headers = _body(run, i)
            client.post(url, content=body, headers=headers).raise_for_status()

        with ThreadPoolExecutor(flight) as pool:
            list(pool.map(send, range(n)))


def threads_httpx_each(url: str, run: str, n: int, flight: int) -> None:
    local = threading.local()
    opened: list[httpx.Client] = []

    def send(i: int) -> None:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(timeout=10)
            opened.append(client)
        body, headers = _body(run, i)
        client.post(url, content=body, headers=headers).raise_for_status()

    with ThreadPoolExecutor(flight) as pool:
        list(pool.map(send, range(n)))
    for client in opened:
        client.close()


def threads_http_client(url: str, run: str, n: int, flight: int) -> None:
    parts = urlsplit(url)
    local = threading.local()
    opened: list[http.client.HTTPConnection] = []

    def send(i: int) -> None:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection(parts.hostname or "", parts.port,
                                                           timeout=10)
            opened.append(conn)
        body, headers = _body(run, i)
        conn.request("POST", parts.path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")

    with ThreadPoolExecutor(flight) as pool:
        list(pool.map(send, range(n)))
    for conn in opened:
        conn.close()


def asyncio_httpx(url: str, run: str, n: int, flight: int) -> None:
    async def main() -> None:
        limits = httpx.Limits(max_connections=flight, max_keepalive_connections=flight)
        async with httpx.AsyncClient(timeout=10, limits=limits) as client:
            todo = iter(range(n))

            async def lane() -> None:
                for i in todo:
                    body, headers = _body(run, i)
                    (await client.post(url, content=body, headers=headers)).raise_for_status()

            await asyncio.gather(*(lane() for _ in range(flight)))

    asyncio.run(main())


def one_at_a_time(url: str, run: str, n: int, flight: int) -> None:
    threads_http_client(url, run, n, 1)


WAYS: dict[str, Callable[[str, str, int, int], None]] = {
    "threads + httpx.Client (shared)": threads_httpx,
    "threads + httpx.Client (one per thread)": threads_httpx_each,
    "threads + http.client (one connection per thread)": threads_http_client,
    "asyncio + httpx.AsyncClient": asyncio_httpx,
    "one connection, one at a time (today)": one_at_a_time,
}


def measure(base: str, pid: int, way: str, n: int, flight: int, run: str) -> Run:
    before = time.monotonic()
    cpu0, p0 = time.process_time(), process_cpu(pid)
    t0 = time.perf_counter()
    WAYS[way](f"{base}/sms", run, n, flight)
    seconds = time.perf_counter() - t0
    cpu1, p1 = time.process_time(), process_cpu(pid)
    took = stats(base, before)
    if took["delivered"] != n or took["duplicate_keys"]:
        raise RuntimeError(f"{way}: the provider took {took['delivered']} of {n} "
                           f"({took['duplicate_keys']} duplicated)")
    return Run(way, n, flight, seconds, cpu1 - cpu0, p1 - p0)


def probe(n: int, flight: int, latency: float, repeat: int, serial: int,
          ways: list[str]) -> list[Run]:
    runs = []
    with provider_process(latency) as (base, pid):
        measure(base, pid, "threads + http.client (one connection per thread)", 200, flight,
                "warm-up")
        for r in range(repeat):
            for way in ways:
                if way.startswith("one connection"):
                    if r == 0 and serial:
                        runs.append(measure(base, pid, way, serial, 1, f"serial-{r}"))
                    continue
                runs.append(measure(base, pid, way, n, flight, f"{way[:8]}-{r}"))
    return runs


def report(runs: list[Run], latency: float) -> str:
    lines = ["| way | requests | in flight | requests/s (median) | client CPU s / 1000 req "
             "(median) | provider CPU s / 1000 req | runs (req/s) |",
             "|---|---|---|---|---|---|---|"]
    for way in WAYS:
        mine = [r for r in runs if r.way == way]
        if not mine:
            continue
        rate = statistics.median(r.per_second for r in mine)
        cpu = statistics.median(r.cpu_per_1000 for r in mine)
        server = statistics.median(r.provider_cpu / r.requests * 1000 for r in mine)
        lines.append(f"| {way} | {mine[0].requests:,} | {mine[0].in_flight} | {rate:,.0f} | "
                     f"{cpu:.3f} | {server:.3f} | "
                     f"{', '.join(f'{r.per_second:,.0f}' for r in mine)} |")
    flight = max((r.in_flight for r in runs), default=0)
    return "\n".join(lines) + (f"\n\nLatency {latency * 1000:.0f} ms; the ceiling with "
                               f"{flight} in flight is {flight / latency:,.0f} requests/s.")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.concurrency_probe",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--in-flight", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--serial", type=int, default=50,
                        help="requests for the one-at-a-time line (0: skip it)")
    parser.add_argument("--ways", default="",
                        help="only the ways whose name contains one of these words, "
                        "comma-separated (e.g. http.client)")
    a = parser.parse_args()
    words = [w for w in a.ways.split(",") if w]
    ways = [w for w in WAYS if not words or any(word in w for word in words)]
    runs = probe(a.requests, a.in_flight, a.latency, a.repeat, a.serial, ways)
    print(report(runs, a.latency))


if __name__ == "__main__":
    main()
