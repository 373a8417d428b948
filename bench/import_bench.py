"""Import benchmarks: the whole Online Retail file, and a generated file of 70,000
purchases by 25,000 customers (with e-mails and phones), then the same import again.

Times the real command (``touchflow import purchases``) end to end, Django start-up
included, on a fresh database each run, and checks that the second run changed no
table. ``repeat`` runs per file and database; the report gives the median and every run.
"""

from __future__ import annotations

import gzip
import json
import random
import re
import statistics
import subprocess
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from bench.databases import BIN, VAR, env_for, fresh_database, helper

# shared/ beside the checkout, else the workplace's copy.
DATA = next(
    (p for p in (Path(__file__).resolve().parents[2] / "shared", Path("/work/shared"))
     if (p / "data/online_retail_2010_2011.csv.gz").exists()),
    Path("/work/shared"),
) / "data/online_retail_2010_2011.csv.gz"
TIMEOUT = 300  # bounded: a run that takes 10× the target is a failure, not a wait
GENERATED_PURCHASES = 70_000
GENERATED_CUSTOMERS = 25_000
# The generated file's columns beyond the default (Online Retail) mapping.
GENERATED_MAP = ["--map", "email=Email", "--map", "phone=Phone", "--map", "name=Name"]
SEED = 8


@dataclass
class ImportResult:
    file: str
    database: str
    seconds: float  # median of the runs
    reimport_seconds: float  # median of the runs
    runs: list[float]
    reimport_runs: list[float]
    purchases: int
    customers: int
    timeline_rows: int
    summary: dict[str, list[int]] = field(default_factory=dict)
    reimport_changed_tables: list[str] = field(default_factory=list)


def generate(path: Path, purchases: int = GENERATED_PURCHASES,
             customers: int = GENERATED_CUSTOMERS, seed: int = SEED) -> Path:
    """Write a gzipped CSV of ``purchases`` invoices (1–4 lines each) by ``customers``
    customers, every customer with an e-mail and every other one with a UK mobile
    number; the same arguments always write the same bytes."""
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, 9, 0)
    rows = ["InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,"
            "Country,Email,Phone,Name\n"]
    # Every customer buys at least once; the rest of the purchases go to anyone.
    buyers = list(range(customers)) + [rng.randrange(customers)
                                       for _ in range(purchases - customers)]
    rng.shuffle(buyers)
    for n, who in enumerate(buyers):
        when = (start + timedelta(minutes=7 * n)).strftime("%Y-%m-%d %H:%M:%S")
        email = f"customer{who}@example.com"
        phone = f"+44 7911 {100000 + who}" if who % 2 == 0 else ""
        for _ in range(rng.randint(1, 4)):
            sku = rng.randrange(3000)
            rows.append(f"{500000 + n},P{sku},PRODUCT {sku},{rng.randint(1, 12)},{when},"
                        f"{1 + sku % 40}.{sku % 100:02d},{10000 + who}.0,United Kingdom,"
                        f"{email},{phone},Customer {who}\n")
    path.write_bytes(gzip.compress("".join(rows).encode(), compresslevel=6, mtime=0))
    return path


def run_import(url: str, data: Path, extra: list[str]) -> tuple[float, str]:
    argv = [str(BIN / "touchflow"), "import", "purchases", str(data), "--store", "bench",
            *extra]
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


def _files() -> dict[str, tuple[Path, list[str]]]:
    VAR.mkdir(parents=True, exist_ok=True)
    generated = VAR / f"generated_{GENERATED_PURCHASES}_{GENERATED_CUSTOMERS}.csv.gz"
    if not generated.exists():
        generate(generated)
    return {"online-retail": (DATA, []), "generated-70k": (generated, GENERATED_MAP)}


def bench_import(kind: str, repeat: int = 3, which: str = "both") -> list[ImportResult]:
    results = []
    for name, (data, extra) in _files().items():
        if which not in ("both", name):
            continue
        runs, again_runs = [], []
        for _ in range(repeat):
            with fresh_database(kind, "touchflow_bench") as url:
                helper(url, "store")
                seconds, output = run_import(url, data, extra)
                first = json.loads(helper(url, "counts"))
                again, _ = run_import(url, data, extra)
                second = json.loads(helper(url, "counts"))
            runs.append(round(seconds, 2))
            again_runs.append(round(again, 2))
        results.append(ImportResult(
            file=name,
            database=kind,
            seconds=round(statistics.median(runs), 2),
            reimport_seconds=round(statistics.median(again_runs), 2),
            runs=runs,
            reimport_runs=again_runs,
            purchases=first["purchases_purchase"],
            customers=first["customers_customer"],
            timeline_rows=first["timeline_timelineevent"],
            summary=summary_of(output),
            reimport_changed_tables=sorted(t for t in first if first[t] != second[t]),
        ))
    return results


def report(results: list[ImportResult]) -> str:
    lines = ["| file | database | import (s), median | runs | re-import (s), median | "
             "purchases | customers | timeline rows | tables changed by re-import |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r.file} | {r.database} | {r.seconds} | {r.runs} | "
                     f"{r.reimport_seconds} | {r.purchases} | {r.customers} | "
                     f"{r.timeline_rows} | {r.reimport_changed_tables or 'none'} |")
    for r in results:
        if r.database == results[0].database:
            lines.append(f"\nSummary printed by the last run of {r.file} (lines, invoices):\n")
            lines.extend(f"- {label}: {values}" for label, values in r.summary.items())
    return "\n".join(lines)


def as_json(results: list[ImportResult]) -> list[dict[str, object]]:
    return [asdict(r) for r in results]
