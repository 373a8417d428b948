"""``python -m bench [import|visits|all]``: run the benchmarks, print Markdown tables.

Results are also written as JSON under var/bench/. Copy the tables into
bench/RESULTS.md with the command, the date and the machine.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform

from bench import import_bench, visits_bench
from bench.databases import VAR


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("which", nargs="?", default="all", choices=["all", "import", "visits"])
    parser.add_argument("--db", default="both", choices=["both", "sqlite", "postgres"])
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (visits)")
    parser.add_argument("--connections", default="4,8,16,32",
                        help="concurrency levels for the visits bench, comma-separated")
    parser.add_argument("--seconds", type=int, default=20, help="duration of each level")
    args = parser.parse_args()
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    levels = [int(c) for c in args.connections.split(",")]
    print(f"# bench {datetime.datetime.now().isoformat(timespec='seconds')} on "
          f"{platform.node()}, {os.cpu_count()} CPUs, {platform.python_version()}\n")
    out: dict[str, object] = {}
    if args.which in ("all", "import"):
        results = [import_bench.bench_import(kind) for kind in kinds]
        print("## Import of the Online Retail file\n\n" + import_bench.report(results) + "\n")
        out["import"] = import_bench.as_json(results)
    if args.which in ("all", "visits"):
        loads = [r for kind in kinds
                 for r in visits_bench.bench_visits(kind, args.workers, levels, args.seconds)]
        print("## POST /api/v1/visits under load\n\n" + visits_bench.report(loads) + "\n")
        out["visits"] = visits_bench.as_json(loads)
    VAR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    (VAR / f"results-{stamp}.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
