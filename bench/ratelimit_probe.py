"""The rate limiter alone, the way issue 9's target counts it: three worker processes
share one account limited to 30/s through PostgreSQL; each grant reaches the "provider"
100 ms later (plus 0-20 ms of jitter). Prints the steady aggregate rate and the busiest
one-second window at the provider.

    TOUCHFLOW_DATABASE_URL=postgresql://…/db .venv/bin/touchflow migrate
    TOUCHFLOW_DATABASE_URL=postgresql://…/db .venv/bin/python -m bench.ratelimit_probe [SECONDS]

Only the limiter: the whole engine against a slow provider is the engine bench's job.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

RATE = 30.0
WORKERS = 3
LATENCY = 0.1


def worker(key: str, seconds: float, out: Path) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "touchflow.settings")
    django.setup()
    from touchflow.delivery import ratelimit

    limiter = ratelimit.for_database()
    arrivals: list[float] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        granted = limiter.acquire(key, RATE, 8)
        sent = time.monotonic()  # one clock for every process on this machine
        arrivals += [sent + LATENCY + random.uniform(0, 0.02) for _ in range(granted)]
        if not granted:
            time.sleep(min(limiter.wait(key, RATE), 0.05))
    out.write_text(json.dumps(arrivals))


def busiest_second(times: list[float]) -> int:
    busiest, first = 0, 0
    for i, t in enumerate(times):
        while times[first] < t - 1.0:
            first += 1
        busiest = max(busiest, i - first + 1)
    return busiest


def main(seconds: float) -> dict[str, object]:
    key = f"bench:{uuid.uuid4().hex}"
    with tempfile.TemporaryDirectory() as tmp:
        outs = [Path(tmp) / f"w{i}.json" for i in range(WORKERS)]
        procs = [
            subprocess.Popen([sys.executable, "-m", "bench.ratelimit_probe", "--worker", key,
                              str(seconds), str(out)])
            for out in outs
        ]
        for proc in procs:
            proc.wait()
        per_worker = [json.loads(out.read_text()) for out in outs]
    times = sorted(t for arrivals in per_worker for t in arrivals)
    # The steady part: the workers start a little apart, so leave out the first and
    # last second.
    low, high = times[0] + 1, times[-1] - 1
    steady = sum(1 for t in times if low <= t < high) / (high - low)
    return {
        "rate": RATE, "workers": WORKERS, "latency_s": LATENCY, "messages": len(times),
        "per_worker": [len(a) for a in per_worker], "steady_per_s": round(steady, 2),
        "busiest_1s_window": busiest_second(times),
    }


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker(sys.argv[2], float(sys.argv[3]), Path(sys.argv[4]))
    else:
        print(json.dumps(main(float(sys.argv[1]) if len(sys.argv) > 1 else 20.0)))
