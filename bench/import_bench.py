"""(a) Import of the whole Online Retail file, then the same import again.

Times the real command (``touchflow import purchases``) end to end, on a fresh
database each time, and checks that the second run changed no table.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.databases import BIN, env_for, fresh_database, helper

# shared/ beside the checkout, else the workplace's copy.
DATA = next(
    (p for p in (Path(__file__).resolve().parents[2] / "shared", Path("/work/shared"))
     if (p / "data/online_retail_2010_2011.csv.gz").exists()),
    Path("/work/shared"),
) / "data/online_retail_2010_2011.csv.gz"
TIMEOUT = 300  # bounded: a run that takes 10× the target is a failure, not a wait


@dataclass
class ImportResult:
    database: str
    seconds: float
    reimport_seconds: float
    purchases: int
    customers: int
    timeline_rows: int
    summary: dict[str, list[int]]
    reimport_changed_tables: list[str]


def run_import(url: str) -> tuple[float, str]:
    argv = [str(BIN / "touchflow"), "import", "purchases", str(DATA), "--store", "bench"]
    started = time.perf_counter()
    done = subprocess.run(argv, env=env_for(url), capture_output=True, text=True,
                          timeout=TIMEOUT, check=True)
    return time.perf_counter() - started, done.stdout


def summary_of(output: str) -> dict[str, list[int]]:
    """The rows of the CLI's summary table: label → [lines, invoices] (blank cells omitted)."""
    rows = {}
    for line in output.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃]", line) if c.strip()]
        if len(cells) >= 2 and all(c.isdigit() for c in cells[1:]):
            rows[cells[0]] = [int(c) for c in cells[1:]]
    return rows


def bench_import(kind: str) -> ImportResult:
    with fresh_database(kind, "touchflow_bench") as url:
        helper(url, "store")
        seconds, output = run_import(url)
        first = json.loads(helper(url, "counts"))
        again, _ = run_import(url)
        second = json.loads(helper(url, "counts"))
    return ImportResult(
        database=kind,
        seconds=round(seconds, 2),
        reimport_seconds=round(again, 2),
        purchases=first["purchases_purchase"],
        customers=first["customers_customer"],
        timeline_rows=first["timeline_timelineevent"],
        summary=summary_of(output),
        reimport_changed_tables=sorted(t for t in first if first[t] != second[t]),
    )


def report(results: list[ImportResult]) -> str:
    lines = ["| database | import (s) | re-import (s) | purchases | customers | timeline rows "
             "| tables changed by re-import |", "|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r.database} | {r.seconds} | {r.reimport_seconds} | {r.purchases} | "
                     f"{r.customers} | {r.timeline_rows} | {r.reimport_changed_tables or 'none'} |")
    if results:
        lines.append("\nSummary printed by the first run (lines, invoices):\n")
        lines.extend(f"- {label}: {values}" for label, values in results[0].summary.items())
    return "\n".join(lines)


def as_json(results: list[ImportResult]) -> list[dict[str, object]]:
    return [asdict(r) for r in results]
