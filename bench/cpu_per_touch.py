"""``python -m bench.cpu_per_touch --db sqlite|postgres``: a worker's CPU per touch, in
one process, without a provider.

The throughput benches share two cores between the workers, the database and the
provider, and the machine's speed drifts: a change that saves a tenth of a worker's
CPU can vanish in them. This reads the CPU (``time.process_time``: that process's, not
the database's) of each of ``bench.engine_tool round``'s fifteen timed rounds of 2,000
on the null channel, after its warm-up round, on a fresh copy of a 40,000-customer
database each run (the engine bench's store and chain), and keeps each run's cheapest
round: a neighbour on the machine only ever adds time, so the minimum is the figure
that repeats (the sum of the rounds varied by ±15 % from run to run).

To compare two commits, run it from a work tree of each (``git worktree add``), with
that tree as the current directory: ``python -m`` puts the current directory first on
the path, ahead of ``PYTHONPATH``, so the code measured is the tree you stand in.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys

from bench.databases import BIN, ROOT, VAR, env_for

CUSTOMERS = 40_000
BATCH = 2_000
ROUNDS = 15
PG_ADMIN = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-q"]


def _base(db: str) -> str:
    """The URL of the prepared database (made once, then copied for every run)."""
    if db == "sqlite":
        path = VAR / "cpu_per_touch_base.sqlite3"
        url = f"sqlite:///{path}"
        if path.exists():
            return url
    else:
        url = "postgresql://postgres@127.0.0.1:5432/tf_cpu_base"
        found = subprocess.run([*PG_ADMIN, "-tAc", "SELECT 1 FROM pg_database WHERE datname = "
                                "'tf_cpu_base'"], capture_output=True, text=True, check=True)
        if found.stdout.strip():
            return url
        subprocess.run([*PG_ADMIN, "-c", "CREATE DATABASE tf_cpu_base"], check=True)
    env = env_for(url)
    subprocess.run([str(BIN / "touchflow"), "migrate"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    for step in (["setup", str(CUSTOMERS)], ["enroll"]):
        subprocess.run([sys.executable, "-m", "bench.engine_tool", *step], env=env, cwd=ROOT,
                       check=True, stdout=subprocess.DEVNULL)
    return url


def _copy(db: str, base: str) -> str:
    if db == "sqlite":
        run = VAR / "cpu_per_touch_run.sqlite3"
        shutil.copy(base.removeprefix("sqlite:///"), run)
        return f"sqlite:///{run}"
    subprocess.run([*PG_ADMIN, "-c", "DROP DATABASE IF EXISTS tf_cpu_run",
                    "-c", "CREATE DATABASE tf_cpu_run TEMPLATE tf_cpu_base"], check=True)
    return "postgresql://postgres@127.0.0.1:5432/tf_cpu_run"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    VAR.mkdir(parents=True, exist_ok=True)
    base = _base(args.db)
    per_touch = []
    for _ in range(args.repeat):
        url = _copy(args.db, base)
        done = json.loads(subprocess.run(
            [sys.executable, "-m", "bench.engine_tool", "round", str(BATCH), str(ROUNDS)],
            env=env_for(url), cwd=ROOT, check=True, capture_output=True, text=True,
        ).stdout)
        per_touch.append(round(1e6 * min(done["cpu_seconds_per_round"]) / BATCH, 1))
    print(f"{args.db}: {sorted(per_touch)[len(per_touch) // 2]} µs of worker CPU a touch "
          f"(median over runs of each run's cheapest round: {per_touch}), null channel, "
          f"rounds of {BATCH}")


if __name__ == "__main__":
    main()
