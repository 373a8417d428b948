"""Channels: inbound webhooks under load, served by the production server.

gunicorn (``touchflow serve``) on a fresh database with a store whose Telegram bot
1,000 customers opened; Debian's ``wrk`` POSTs Telegram updates (replies, 5 % of them
repeated as Telegram does when it retries) with the secret-token header. Every
distinct update must land once on a timeline; the table says how many did.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.databases import fresh_database, helper
from bench.visits_bench import Server, ensure_wrk, run_wrk

HOOKS_LUA = Path(__file__).with_name("hooks.lua")
CHATS = 1000


@dataclass
class HookLoad:
    database: str
    workers: int
    connections: int
    seconds: float
    requests: int
    per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    applied: int  # timeline rows written: distinct updates
    events: int  # InboundEvent rows: distinct updates remembered for idempotency


def bench_hooks(kind: str, workers: int, levels: list[int], seconds: int) -> list[HookLoad]:
    wrk = ensure_wrk()
    results = []
    with fresh_database(kind, "touchflow_bench") as url:
        setup = json.loads(helper(url, "hooks-setup", str(CHATS)))
        server = Server(url, workers)
        try:
            server.wait_ready()
            args = [setup["path"], setup["secret"]]
            run_wrk(wrk, server.port, [*args, "0", str(CHATS)], 4, 3, HOOKS_LUA)  # warm-up
            before = _counts(url)
            for run, connections in enumerate(levels, start=1):
                raw = run_wrk(wrk, server.port, [*args, str(run), str(CHATS)], connections,
                              seconds, HOOKS_LUA)
                after = _counts(url)
                secs = raw["duration_us"] / 1e6
                results.append(HookLoad(
                    database=kind, workers=workers, connections=connections,
                    seconds=round(secs, 1), requests=raw["requests"],
                    per_second=round(raw["requests"] / secs, 1),
                    p50_ms=raw["p50_us"] / 1000, p99_ms=raw["p99_us"] / 1000,
                    non_2xx=raw["non_2xx"],
                    socket_errors=raw["connect_errors"] + raw["read_errors"]
                    + raw["write_errors"] + raw["timeouts"],
                    applied=after[0] - before[0], events=after[1] - before[1],
                ))
                before = after
        finally:
            server.stop()
    return results


def _counts(url: str) -> tuple[int, int]:
    counts = json.loads(helper(url, "counts"))
    return int(counts["timeline_timelineevent"]), int(counts["messaging_inboundevent"])


def report(results: list[HookLoad]) -> str:
    lines = ["| database | workers | connections | requests | webhooks/s | p50 ms | p99 ms "
             "| non-2xx | socket errors | replies on timelines | distinct updates |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r.database} | {r.workers} | {r.connections} | {r.requests} | "
                     f"{r.per_second} | {r.p50_ms:.1f} | {r.p99_ms:.1f} | {r.non_2xx} | "
                     f"{r.socket_errors} | {r.applied} | {r.events} |")
    return "\n".join(lines)


def as_json(results: list[HookLoad]) -> list[dict[str, object]]:
    return [asdict(r) for r in results]
