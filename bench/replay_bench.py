"""``python -m bench replay``: ``touchflow replay`` of the Online Retail year into a fresh
database (issue 10's target: the whole year in ≤ 10 min on PostgreSQL), timed as a user
runs it; its last lines (the per-month table's total, the checks) are kept."""

from __future__ import annotations

import subprocess
import time
from dataclasses import asdict, dataclass

from bench.databases import BIN, env_for, fresh_database
from bench.import_bench import DATA

TIMEOUT = 1800


@dataclass
class ReplayResult:
    database: str
    seconds: float
    exit_code: int
    total: str  # the table's "total" row
    summary: list[str]  # what the command said last


def bench_replay(kind: str) -> ReplayResult:
    with fresh_database(kind, "touchflow_replay") as url:
        started = time.perf_counter()
        done = subprocess.run([str(BIN / "touchflow"), "replay", "--file", str(DATA)],
                              env=env_for(url), capture_output=True, text=True,
                              timeout=TIMEOUT)
        seconds = time.perf_counter() - started
    lines = done.stdout.splitlines()
    total = next((ln for ln in lines if "total" in ln), "")
    return ReplayResult(kind, round(seconds, 1), done.returncode, total, lines[-2:])


def report(results: list[ReplayResult]) -> str:
    rows = ["| database | seconds | exit | total row | last lines |", "|---|---|---|---|---|"]
    rows += [f"| {r.database} | {r.seconds} | {r.exit_code} | `{r.total.strip()}` | "
             f"{' / '.join(r.summary)} |" for r in results]
    return "\n".join(rows)


def as_json(results: list[ReplayResult]) -> list[dict[str, object]]:
    return [asdict(r) for r in results]
