"""What keeping the dashboard's figures current costs (issue 11): the visit API's and
dispatch's throughput with the rollups kept and with them switched off
(``bench.without_rollups``), side by side on the same database, the two sides taking
turns so a noisy neighbour hurts both alike.

- Dispatch: ``touchflow worker`` against the null channel (the engine's own cost, where
  the figures' share is largest), 2 workers on PostgreSQL, 1 on SQLite, over a backlog of
  one due touch per customer; touches sent a second from the timeline's growth
  (``engine_bench.measure``).
- Visits: ``POST /api/v1/visits`` from wrk at one concurrency, gunicorn started as
  ``touchflow serve`` starts it with either application (``visits_bench``).
"""

from __future__ import annotations

import json
import statistics
import sys
from dataclasses import asdict, dataclass, field
from typing import Any

from bench import engine_bench, visits_bench
from bench.databases import fresh_database, helper

KEPT, OFF = "figures kept", "figures off"
APPS = {KEPT: "touchflow.wsgi:application", OFF: "bench.wsgi_without_rollups:application"}
WORKER_OFF = [sys.executable, "-m", "bench.without_rollups", *engine_bench.WORKER[1:]]


@dataclass
class Side:
    what: str  # dispatch | visits
    side: str  # KEPT | OFF
    per_second: list[float] = field(default_factory=list)
    p99_ms: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.per_second) if self.per_second else 0.0


@dataclass
class RollupCost:
    database: str
    customers: int
    seconds: float
    connections: int
    workers: int
    sides: list[Side] = field(default_factory=list)

    def side(self, what: str, side: str) -> Side:
        found = next((s for s in self.sides if (s.what, s.side) == (what, side)), None)
        if found is None:
            found = Side(what, side)
            self.sides.append(found)
        return found


def bench_rollups(kind: str, customers: int, seconds: float, repeat: int,
                  connections: int, web_workers: int,
                  parts: tuple[str, ...] = ("dispatch", "visits")) -> RollupCost:
    workers = 2 if kind == "postgres" else 1
    result = RollupCost(kind, customers, seconds, connections, web_workers)
    if "dispatch" in parts:
        _dispatch(result, kind, customers, seconds, repeat, workers)
    if "visits" in parts:
        _visits(result, kind, seconds, repeat, connections, web_workers)
    return result


def _dispatch(result: RollupCost, kind: str, customers: int, seconds: float, repeat: int,
              workers: int) -> None:
    with fresh_database(kind, "touchflow_bench_rollups") as url:
        engine_bench.tool(url, "setup", customers)
        engine_bench.tool(url, "enroll")
        for n in range(repeat):
            for side in (KEPT, OFF) if n % 2 == 0 else (OFF, KEPT):
                argv = engine_bench.WORKER if side == KEPT else WORKER_OFF
                rate = engine_bench.measure(url, f"dispatch, {side}", argv, workers, seconds)
                result.side("dispatch", side).per_second.append(rate.touches_per_s)


def _visits(result: RollupCost, kind: str, seconds: float, repeat: int, connections: int,
            web_workers: int) -> None:
    wrk = visits_bench.ensure_wrk()
    with fresh_database(kind, "touchflow_bench_rollups_visits") as url:
        token = json.loads(helper(url, "visit-setup"))["token"]
        runs = 0
        for n in range(repeat):
            for side in (KEPT, OFF) if n % 2 == 0 else (OFF, KEPT):
                runs += 1  # each run its own external ids: a repeated one is a replay
                server = visits_bench.Server(url, web_workers, APPS[side])
                try:
                    server.wait_ready()
                    visits_bench.run_wrk(wrk, server.port, [token, str(100 + runs)], 4, 3)
                    raw = visits_bench.run_wrk(wrk, server.port, [token, str(runs)],
                                               connections, int(seconds))
                finally:
                    server.stop()
                load = visits_bench._result(kind, web_workers, connections, raw, 0)
                result.side("visits", side).per_second.append(load.per_second)
                result.side("visits", side).p99_ms.append(load.p99_ms)


def report(results: list[RollupCost]) -> str:
    lines = ["| database | what | figures kept (/s, median) | figures off (/s, median) "
             "| kept / off | cost | runs kept; off |", "|---|---|---|---|---|---|---|"]
    for r in results:
        for what, unit in (("dispatch", "touches"), ("visits", "visits")):
            kept, off = r.side(what, KEPT), r.side(what, OFF)
            if not kept.per_second:
                continue
            ratio = kept.median / max(off.median, 1e-9)
            lines.append(f"| {r.database} | {what} ({unit}) | {kept.median:,.0f} | "
                         f"{off.median:,.0f} | {ratio:.3f} | {100 * (1 - ratio):.1f} % | "
                         f"{kept.per_second}; {off.per_second} |")
    return "\n".join(lines)


def as_json(results: list[RollupCost]) -> list[dict[str, Any]]:
    return [asdict(r) for r in results]
