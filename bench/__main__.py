"""``python -m bench [import|visits|engine|hooks|adapters|delivery|replay|health|dashboard|
rollups|all]``: run the benchmarks, print Markdown tables. ``all`` leaves out ``delivery``
(sends at a provider's real latency, issue 9; it takes its own options below), ``replay``,
``health`` (the BG/NBD model's validation on the Online Retail year, issue 11) and
``dashboard`` (the manager's views on 10M visits, issue 11: an hour to generate) and
``rollups`` (the visit API's and dispatch's throughput with the figures kept and with
them switched off, side by side, issue 11).

Results are also written as JSON under var/bench/. Copy the tables into
bench/RESULTS.md with the command, the date and the machine.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform

from bench import (
    adapters_bench,
    channels_bench,
    dashboard_bench,
    delivery_bench,
    engine_bench,
    health_bench,
    import_bench,
    replay_bench,
    rollups_bench,
    visits_bench,
)
from bench.databases import VAR, machine_speed


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("which", nargs="?", default="all",
                        choices=["all", "import", "visits", "engine", "hooks", "adapters",
                                 "delivery", "replay", "health", "dashboard", "rollups"])
    parser.add_argument("--db", default="both", choices=["both", "sqlite", "postgres"])
    parser.add_argument("--workers", type=int, default=None,
                        help="gunicorn workers (visits, hooks; default 4); delivery: "
                        "touchflow workers (default 2 on PostgreSQL, 1 on SQLite)")
    parser.add_argument("--connections", default="4,8,16,32",
                        help="concurrency levels for the visits bench, comma-separated")
    parser.add_argument("--seconds", type=int, default=20, help="duration of each level")
    parser.add_argument("--customers", type=int, default=None,
                        help="engine: base size (default 1,000,000); delivery: touches "
                        "in the backlog (default 60,000)")
    parser.add_argument("--small-base", type=int, default=100_000,
                        help="engine: the small base of the round-cost comparison")
    parser.add_argument("--repeat", type=int, default=3,
                        help="engine and import: runs per measurement")
    parser.add_argument("--file", default="both", choices=["both", "online-retail",
                                                           "generated-70k"],
                        help="import: which file")
    parser.add_argument("--window", type=float, default=10,
                        help="engine, delivery: seconds per rate")
    delivery = parser.add_argument_group("delivery (issue 9)")
    delivery.add_argument("--latency", type=float, default=0.1,
                          help="seconds the provider takes to answer")
    delivery.add_argument("--jitter", type=float, default=0.0, help="± seconds on the latency")
    delivery.add_argument("--rate", type=float, default=None,
                          help="messages/s for the account, passed as &rate= on the channel URL")
    delivery.add_argument("--timeout", type=float, default=5.0,
                          help="the channel's request timeout (seconds)")
    delivery.add_argument("--fail", type=float, default=0.0,
                          help="share of requests the provider fails (500, 429, stall)")
    delivery.add_argument("--batch", type=int, default=500, help="touchflow worker --batch")
    delivery.add_argument("--idle", type=float, default=0.05, help="touchflow worker --idle")
    delivery.add_argument("--warmup", type=float, default=5.0,
                          help="seconds after the first message before measuring")
    delivery.add_argument("--lag", action="store_true",
                          help="lag mode: touches fall due over time; due → provider latency")
    delivery.add_argument("--per-minute", type=int, default=1000, help="lag: touches due a minute")
    delivery.add_argument("--minutes", type=float, default=3.0, help="lag: minutes of touches")
    parser.add_argument("--parts", default="dispatch,visits",
                        help="rollups: which throughputs to compare (dispatch, visits)")
    dashboard = parser.add_argument_group("dashboard (issue 11)")
    dashboard.add_argument("--scale", type=float, default=None,
                           help="of 10M visits, 1M customers, 20M touches (default 1.0 on "
                           "PostgreSQL, 0.1 on SQLite)")
    dashboard.add_argument("--keep", action="store_true",
                           help="keep the generated database (and resume its generation)")
    dashboard.add_argument("--only-time", action="store_true",
                           help="time the views against the kept database, generate nothing")
    dashboard.add_argument("--phase", default="",
                           help="redo these phases (comma-separated) and those after them: "
                           + ", ".join(dashboard_bench.PHASES) + ", all")
    dashboard.add_argument("--requests", type=int, default=20,
                           help="timed requests per URL and role, after 2 warm-ups")
    dashboard.add_argument("--urls", default="",
                           help="time only the URLs this regular expression finds (e.g. "
                           "'^/dashboard/')")
    args = parser.parse_args()
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    levels = [int(c) for c in args.connections.split(",")]
    print(f"# bench {datetime.datetime.now().isoformat(timespec='seconds')} on "
          f"{platform.node()}, {os.cpu_count()} CPUs, {platform.python_version()}; "
          f"this machine's speed: {machine_speed():.2f} s for a fixed Python loop "
          f"(lower is faster), load average {os.getloadavg()[0]:.2f}\n")
    out: dict[str, object] = {}
    if args.which in ("all", "import"):
        results = [r for kind in kinds
                   for r in import_bench.bench_import(kind, args.repeat, args.file)]
        print("## Import\n\n" + import_bench.report(results) + "\n")
        out["import"] = import_bench.as_json(results)
    if args.which in ("all", "visits"):
        loads = [r for kind in kinds
                 for r in visits_bench.bench_visits(kind, args.workers or 4, levels,
                                                    args.seconds)]
        print("## POST /api/v1/visits under load\n\n" + visits_bench.report(loads) + "\n")
        out["visits"] = visits_bench.as_json(loads)
    if args.which in ("all", "engine"):
        engines = [engine_bench.bench_engine(kind, args.customers or 1_000_000, args.small_base,
                                             args.window, args.repeat)
                   for kind in kinds]
        print("## Delivery engine\n\n" + engine_bench.report(engines) + "\n")
        out["engine"] = engine_bench.as_json(engines)
    if args.which in ("all", "hooks"):
        hooks = [r for kind in kinds
                 for r in channels_bench.bench_hooks(kind, args.workers or 4, levels,
                                                     args.seconds)]
        print("## Inbound webhooks under load\n\n" + channels_bench.report(hooks) + "\n")
        out["hooks"] = channels_bench.as_json(hooks)
    if args.which in ("all", "adapters"):
        adapters = adapters_bench.bench_adapters(args.seconds, args.repeat)
        print("## Channel adapters against local fakes\n\n" + adapters_bench.report(adapters)
              + "\n")
        out["adapters"] = adapters_bench.as_json(adapters)
    if args.which == "delivery":
        runs = [delivery_bench.bench_delivery(delivery_options(args, kind)) for kind in kinds]
        print("## Delivery at real-world speed\n\n" + delivery_bench.report(runs) + "\n")
        out["delivery"] = delivery_bench.as_json(runs)
    if args.which == "replay":
        replays = [replay_bench.bench_replay(kind) for kind in kinds]
        print("## Replay of the Online Retail year (issue 10)\n\n"
              + replay_bench.report(replays) + "\n")
        out["replay"] = replay_bench.as_json(replays)
    if args.which == "health":
        health = health_bench.bench_health()
        print("## Relationship health: BG/NBD on the Online Retail year (issue 11)\n\n"
              + health_bench.report(health) + "\n")
        out["health"] = health_bench.as_json(health)
    if args.which == "dashboard":
        phases = [p for p in args.phase.split(",") if p]
        scaled = [dashboard_bench.bench_dashboard(kind, args.scale, args.keep, args.only_time,
                                                  phases, args.requests, args.urls)
                  for kind in kinds]
        for run in scaled:
            details = dashboard_bench.write_details(run)
            print(f"## The dashboard at scale: {run.database} (issue 11)\n\n"
                  + dashboard_bench.report(run) + f"\n\nQueries and plans: {details}\n")
        out["dashboard"] = [dashboard_bench.as_json(r) for r in scaled]
    if args.which == "rollups":
        costs = [rollups_bench.bench_rollups(kind, args.customers or 600_000, args.window,
                                             args.repeat, levels[0], args.workers or 4,
                                             tuple(args.parts.split(",")))
                 for kind in kinds]
        print("## What keeping the figures current costs (issue 11)\n\n"
              + rollups_bench.report(costs) + "\n")
        out["rollups"] = rollups_bench.as_json(costs)
    VAR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    (VAR / f"results-{stamp}.json").write_text(json.dumps(out, indent=2))


def delivery_options(args: argparse.Namespace, kind: str) -> delivery_bench.Options:
    return delivery_bench.Options(
        db=kind, workers=args.workers or (2 if kind == "postgres" else 1),
        latency=args.latency, jitter=args.jitter, rate=args.rate, timeout=args.timeout,
        fail=args.fail, batch=args.batch, idle=args.idle,
        customers=args.customers or 60_000, warmup=args.warmup, window=args.window,
        repeat=args.repeat, lag=args.lag, per_minute=args.per_minute, minutes=args.minutes)


if __name__ == "__main__":
    main()
