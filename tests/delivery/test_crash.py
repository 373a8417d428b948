"""The crash test: worker processes dispatch 10,000 touches to a local sink while one of
them is killed with SIGKILL at random moments.

Afterwards no touch is lost (every one ends sent, dead-lettered, expired or skipped
with a reason, and the counts add up), every touch recorded as sent reached the sink,
and a key reaches the sink twice only if its touch was in the hands of a killed worker
at that instant. Run once against a healthy sink and once against a sink that fails a
fifth of the requests with 500, 429 (Retry-After: 1) and hangs longer than the
channel's timeout.

PostgreSQL only: several workers share the queue through ``FOR UPDATE SKIP LOCKED``;
SQLite runs a single embedded worker by design.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import time as clock_time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from tests.delivery.crash_sink import CrashSink, crash_sink
from touchflow.core import clock
from touchflow.customers.models import ContactPoint, Customer
from touchflow.delivery.models import Touch
from touchflow.flows.actions import load_flow_text, set_status
from touchflow.flows.enrollment import enroll_many
from touchflow.flows.models import Enrollment
from touchflow.stores.models import Store

pytestmark = [
    pytest.mark.skipif(
        not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
        reason="several workers share one queue only on PostgreSQL (FOR UPDATE SKIP LOCKED); "
        "run with TOUCHFLOW_DATABASE_URL=postgresql://… (CI does)",
    ),
    pytest.mark.wall_clock("the worker subprocesses hold leases on the machine's clock"),
]

TOUCHES = 10_000
WORKERS = 3
KILLS = 20
DEADLINE = 150.0  # seconds for one variant's dispatching, kills included
STARTUP = 2.0  # seconds a worker process needs to start on this 2-core machine
TOUCHFLOW = Path(sys.executable).parent / "touchflow"

CHAIN = """\
slug: crash
name: Crash test
audience:
  trigger: [visit]
  visit_class: [type3]
steps:
  - key: hello
    kind: info
    after: 0s
    channels: [sms]
    expires: 1d
    message:
      en:
        text: "Hello {{ customer.first_name }}, thanks for coming to {{ store.name }}."
"""


def _setup_touches() -> None:
    """10,000 consenting customers with a phone, all enrolled, their touch due now."""
    now = clock.now()
    # No quiet hours (start == end) and caps that never bind: the test is about crashes.
    store = Store.objects.create(
        name="Crash store",
        slug="crash",
        country="PL",
        time_zone="UTC",
        language="en",
        currency="PLN",
        quiet_hours_start=clock_time(0, 0),
        quiet_hours_end=clock_time(0, 0),
        cap_messages=1000,
        cap_commercial=1000,
    )
    flow = set_status(load_flow_text(CHAIN, "crash.yaml").flow, "active")
    Customer.objects.bulk_create(
        [
            Customer(name=f"Client {i}", time_zone="UTC", home_store=store, created_at=now)
            for i in range(TOUCHES)
        ],
        batch_size=2000,
    )
    ContactPoint.objects.bulk_create(
        [
            ContactPoint(
                customer_id=customer_id,
                kind="phone",
                value=f"+4850{i:07d}",
                contact_consent=True,
                created_at=now,
            )
            for i, customer_id in enumerate(Customer.objects.values_list("id", flat=True))
        ],
        batch_size=2000,
    )
    assert enroll_many(flow, Customer.objects.all(), store=store) == TOUCHES


def _database_url() -> str:
    s = connection.settings_dict
    auth = quote(s["USER"] or "postgres")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"])
    return f"postgresql://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


class Workers:
    """The worker subprocesses; a killed one is replaced at once."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen[bytes]] = []
        self.born: dict[int, float] = {}
        self.started = 0

    def start(self) -> subprocess.Popen[bytes]:
        self.started += 1
        log = (self.log_dir / f"worker-{self.started}.log").open("wb")
        proc = subprocess.Popen(
            [str(TOUCHFLOW), "worker", "--batch", "200", "--idle", "0.05", "--lease", "3"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.procs.append(proc)
        self.born[proc.pid] = time.monotonic()
        return proc

    def settled(self) -> list[subprocess.Popen[bytes]]:
        """Workers past Django's start-up (killing one still importing proves nothing)."""
        return [p for p in self.procs if time.monotonic() - self.born[p.pid] > STARTUP]

    def kill(self, proc: subprocess.Popen[bytes]) -> dict[int, str]:
        """SIGKILL ``proc``; return (id → key) of the touches it held at that instant.

        The worker is frozen first (SIGSTOP), so what it holds cannot change between
        reading its claims and killing it; a claim it had not committed dies with it.
        """
        os.kill(proc.pid, signal.SIGSTOP)
        try:
            held = dict(
                Touch.objects.filter(
                    state="queued", lease_owner__contains=f":{proc.pid}:"
                ).values_list("id", "idempotency_key")
            )
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        self.procs.remove(proc)
        return held

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.kill()
        for proc in self.procs:
            proc.wait(timeout=10)
        self.procs.clear()


def _open_touches() -> int:
    return Touch.objects.filter(state="queued").count()


def _run(sink_url: str, tmp_path: Path, seed: int) -> tuple[dict[int, str], list[int]]:
    """Dispatch everything with ``WORKERS`` workers while killing one at random moments
    ``KILLS`` times; return what the killed workers held, and how many touches each kill
    caught in the victim's hands."""
    env = {
        **os.environ,
        "TOUCHFLOW_DATABASE_URL": _database_url(),
        "TOUCHFLOW_CHANNELS": f"sms={sink_url}",
        # Retries within the test's time: 0.2 s, 0.4 s, … (429's Retry-After: 1 wins).
        "TOUCHFLOW_RETRY_BASE": "0.2",
        "TOUCHFLOW_RETRY_CAP": "2",
    }
    rng = random.Random(seed)
    workers = Workers(env, tmp_path)
    held: dict[int, str] = {}
    kills: list[int] = []
    try:
        for _ in range(WORKERS):
            workers.start()
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            if len(kills) < KILLS:
                time.sleep(rng.uniform(0.05, 0.5))
                candidates = workers.settled()
                if not candidates:
                    continue
                caught = workers.kill(rng.choice(candidates))
                held.update(caught)
                kills.append(len(caught))
                workers.start()
                continue
            if _open_touches() == 0:
                break
            time.sleep(0.25)
        open_left = _open_touches()
    finally:
        workers.stop_all()
    assert open_left == 0, f"{open_left} touches still open after {DEADLINE:.0f} s"
    return held, kills


def _check(sink: CrashSink, held: dict[int, str], kills: list[int], label: str) -> None:
    states = Counter(Touch.objects.values_list("state", flat=True))
    keys = dict(Touch.objects.values_list("idempotency_key", "state"))
    sent_keys = {k for k, state in keys.items() if state == "sent"}
    held_keys = set(held.values())
    duplicates = {k for k, n in sink.accepted.items() if n > 1}
    print(
        f"\n[{label}] kills {len(kills)} ({sum(1 for n in kills if n)} mid-batch), "
        f"touches held by killed workers {len(held)}, "
        f"requests {sink.requests}, failures injected {dict(sink.failures)}, "
        f"keys accepted {len(sink.accepted)}, duplicates {len(duplicates)}, "
        f"states {dict(states)}"
    )
    assert len(kills) >= KILLS
    # Nothing lost: every touch reached a final state, the counts add up.
    assert sum(states.values()) == TOUCHES
    assert set(states) <= {"sent", "dead", "expired", "skipped"}
    assert not Touch.objects.exclude(state="sent").filter(reason="").exists()
    assert Enrollment.objects.filter(state="completed").count() == TOUCHES
    # Every touch recorded as sent really reached the sink …
    assert sent_keys <= set(sink.accepted)
    # … and the sink accepted nothing that is not a sent touch, save a message a killed
    # worker got out before it could record it (a later retry may then have failed).
    assert set(sink.accepted) - sent_keys <= held_keys
    # A key arrives twice only if its touch was in a killed worker's hands.
    assert duplicates <= held_keys
    assert len(duplicates) <= len(held)


@pytest.fixture
def touches(transactional_db: None) -> None:
    _setup_touches()


@pytest.mark.usefixtures("touches")
def test_killed_workers_lose_nothing_and_duplicate_only_what_they_held(
    tmp_path: Path,
) -> None:
    with crash_sink() as (sink, url):
        held, kills = _run(url, tmp_path, seed=1)
    _check(sink, held, kills, "healthy sink")
    assert Counter(Touch.objects.values_list("state", flat=True)) == {"sent": TOUCHES}
    assert sink.failures == {}


@pytest.mark.usefixtures("touches")
def test_killed_workers_against_a_failing_sink_lose_nothing(tmp_path: Path) -> None:
    # The channel gives up on a request after 0.1 s; a hung request answers after 0.3 s.
    with crash_sink(fail_share=0.2, hang=0.3) as (sink, url):
        held, kills = _run(f"{url}?timeout=0.1", tmp_path, seed=2)
    _check(sink, held, kills, "sink failing 20%")
    assert set(sink.failures) == {"500", "429", "hang"}
    # Failures were retried: far more requests than touches, and nearly all got through.
    assert sink.requests > TOUCHES * 1.2
    assert Touch.objects.filter(state="sent").count() >= TOUCHES - 10
