"""``python -m bench [import|visits|engine|hooks|adapters|all]``: run the benchmarks, print
Markdown tables.

Results are also written as JSON under var/bench/. Copy the tables into
bench/RESULTS.md with the command, the date and the machine.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform

from bench import adapters_bench, channels_bench, engine_bench, import_bench, visits_bench
from bench.databases import VAR


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("which", nargs="?", default="all",
                        choices=["all", "import", "visits", "engine", "hooks", "adapters"])
    parser.add_argument("--db", default="both", choices=["both", "sqlite", "postgres"])
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (visits)")
    parser.add_argument("--connections", default="4,8,16,32",
                        help="concurrency levels for the visits bench, comma-separated")
    parser.add_argument("--seconds", type=int, default=20, help="duration of each level")
    parser.add_argument("--customers", type=int, default=1_000_000, help="engine: base size")
    parser.add_argument("--small-base", type=int, default=100_000,
                        help="engine: the small base of the round-cost comparison")
    parser.add_argument("--repeat", type=int, default=3,
                        help="engine and import: runs per measurement")
    parser.add_argument("--file", default="both", choices=["both", "online-retail",
                                                           "generated-70k"],
                        help="import: which file")
    parser.add_argument("--window", type=float, default=10, help="engine: seconds per rate")
    args = parser.parse_args()
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    levels = [int(c) for c in args.connections.split(",")]
    print(f"# bench {datetime.datetime.now().isoformat(timespec='seconds')} on "
          f"{platform.node()}, {os.cpu_count()} CPUs, {platform.python_version()}\n")
    out: dict[str, object] = {}
    if args.which in ("all", "import"):
        results = [r for kind in kinds
                   for r in import_bench.bench_import(kind, args.repeat, args.file)]
        print("## Import\n\n" + import_bench.report(results) + "\n")
        out["import"] = import_bench.as_json(results)
    if args.which in ("all", "visits"):
        loads = [r for kind in kinds
                 for r in visits_bench.bench_visits(kind, args.workers, levels, args.seconds)]
        print("## POST /api/v1/visits under load\n\n" + visits_bench.report(loads) + "\n")
        out["visits"] = visits_bench.as_json(loads)
    if args.which in ("all", "engine"):
        engines = [engine_bench.bench_engine(kind, args.customers, args.small_base,
                                             args.window, args.repeat)
                   for kind in kinds]
        print("## Delivery engine\n\n" + engine_bench.report(engines) + "\n")
        out["engine"] = engine_bench.as_json(engines)
    if args.which in ("all", "hooks"):
        hooks = [r for kind in kinds
                 for r in channels_bench.bench_hooks(kind, args.workers, levels, args.seconds)]
        print("## Inbound webhooks under load\n\n" + channels_bench.report(hooks) + "\n")
        out["hooks"] = channels_bench.as_json(hooks)
    if args.which in ("all", "adapters"):
        adapters = adapters_bench.bench_adapters(args.seconds, args.repeat)
        print("## Channel adapters against local fakes\n\n" + adapters_bench.report(adapters)
              + "\n")
        out["adapters"] = adapters_bench.as_json(adapters)
    VAR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    (VAR / f"results-{stamp}.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
