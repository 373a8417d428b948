"""Worker processes against a PostgreSQL that restarts, and a worker cut off the network.

Both tests run real ``touchflow worker`` processes against a throwaway PostgreSQL cluster
of their own (tests/pg_cluster.py): restarting the shared server would break every other
test run on the machine. Afterwards no touch is lost: every one ends sent, save that one
a worker held at the failure may end "uncertain" (in flight to a provider that may not
honour keys, so not sent again); every touch recorded as sent reached the sink; a key
reaches the sink twice only if its touch was held at the failure; and a message sent
again carries the same idempotency key, so a provider that honours keys drops the repeat.

Run in the PostgreSQL pass of the suite only (CI runs it): they need no shared database,
but twice would double their minute.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings

from tests.delivery.recording_sink import RecordingSink, recording_sink
from tests.netns import Namespace, namespace, unavailable
from tests.paths import REPO
from tests.pg_cluster import BIN_VARIABLE, Cluster, find_bin

pytestmark = [
    pytest.mark.skipif(
        not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
        reason="runs in the suite's PostgreSQL pass (CI runs it): several workers share "
        "one queue only on PostgreSQL",
    ),
    pytest.mark.wall_clock("the worker subprocesses hold leases on the machine's clock"),
]

TOUCHFLOW = Path(sys.executable).parent / "touchflow"
TEMPLATE = "touchflow_template"
FINAL = ("sent", "task", "skipped", "expired", "dead", "uncertain", "cancelled")
# What a touch held at the failure may end as; any other touch must end sent.
HELD_MAY_END = {"sent", "uncertain"}


# -- the throwaway cluster -----------------------------------------------------------


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """A migrated template database on a cluster of the tests' own."""
    bin_dir = find_bin()
    if bin_dir is None:
        pytest.skip(f"no PostgreSQL server binaries (initdb, pg_ctl) here; set {BIN_VARIABLE}")
    made = Cluster(bin_dir)
    try:
        made.start()
        made.sql(f"CREATE DATABASE {TEMPLATE}")
        subprocess.run(
            [str(TOUCHFLOW), "migrate"], env=_env(made.url(TEMPLATE)), check=True,
            capture_output=True, timeout=180,
        )
        yield made
    finally:
        made.remove()


@pytest.fixture
def database(cluster: Cluster) -> Iterator[str]:
    """A fresh copy of the template for one test; its URL."""
    name = f"t_{uuid.uuid4().hex}"
    cluster.sql(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    try:
        yield cluster.url(name)
    finally:
        cluster.sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _env(database_url: str, sink_url: str = "") -> dict[str, str]:
    env = {
        **os.environ,
        "TOUCHFLOW_DATABASE_URL": database_url,
        # A retry within the test's time, should a send fail.
        "TOUCHFLOW_RETRY_BASE": "0.2",
        "TOUCHFLOW_RETRY_CAP": "1",
    }
    if sink_url:
        env["TOUCHFLOW_CHANNELS"] = f"sms={sink_url}"
    return env


def _seed(database_url: str, count: int) -> None:
    subprocess.run(
        [sys.executable, "-m", "tests.delivery.crowd", str(count)],
        env=_env(database_url), cwd=REPO, check=True, capture_output=True, timeout=180,
    )


def _rows(database_url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    """One short-lived connection: the server may have restarted since the last one."""
    with psycopg.connect(database_url, connect_timeout=5) as conn:
        return conn.execute(query, params).fetchall()


def _open(database_url: str) -> int:
    return int(_rows(database_url, "SELECT count(*) FROM delivery_touch "
                     "WHERE state <> ALL(%s)", list(FINAL))[0][0])


def _held(database_url: str, owner_like: str = "%") -> dict[int, str]:
    """(id → key) of the open touches some worker holds (claimed, not yet recorded)."""
    return dict(_rows(
        database_url,
        "SELECT id, idempotency_key FROM delivery_touch WHERE state <> ALL(%s) "
        "AND lease_owner <> '' AND lease_owner LIKE %s",
        list(FINAL), owner_like,
    ))


class Workers:
    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, env: dict[str, str], *options: str, prefix: tuple[str, ...] = ()
              ) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"worker-{len(self.procs) + 1}.log").open("wb")
        proc = subprocess.Popen(
            [*prefix, str(TOUCHFLOW), "worker", "--idle", "0.05", *options],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        self.procs.append(proc)
        return proc

    def wait_for(self, condition: Any, timeout: float, what: str) -> None:
        """Poll ``condition``; fail at once if a worker exited (none of them may here)."""
        deadline = time.monotonic() + timeout
        while not condition():
            for proc in self.procs:
                if proc.poll() is not None:
                    # Seen on a shared machine: another session's broad `pkill` (SIGTERM).
                    raise AssertionError(
                        f"worker {proc.pid} exited ({proc.returncode}) while waiting for {what}"
                    )
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(0.1)

    def log(self, proc: subprocess.Popen[bytes]) -> str:
        return (self.log_dir / f"worker-{self.procs.index(proc) + 1}.log").read_text()

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
                proc.kill()
        for proc in self.procs:
            proc.wait(timeout=10)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    made = Workers(tmp_path)
    try:
        yield made
    finally:
        made.stop_all()
        for proc in made.procs:  # shown when the test fails
            print(f"--- worker {proc.pid}, exit {proc.returncode}:\n{made.log(proc)[-3000:]}")


def _check(database_url: str, sink: RecordingSink, held: dict[int, str], count: int) -> None:
    """Nothing lost; a repeat only of what was held, and under the same key."""
    states = dict(_rows(database_url, "SELECT idempotency_key, state FROM delivery_touch"))
    held_keys = set(held.values())
    duplicates = {k for k, n in sink.accepted.items() if n > 1}
    assert len(states) == count
    assert {s for k, s in states.items() if k not in held_keys} == {"sent"}
    assert {states[k] for k in held_keys} <= HELD_MAY_END
    sent = {k for k, s in states.items() if s == "sent"}
    # Every touch recorded as sent reached the sink; the sink got nothing else, save a
    # message a held touch got out before its worker lost the database.
    assert sent <= set(sink.accepted)
    assert set(sink.accepted) - sent <= held_keys
    assert duplicates <= held_keys
    # One key per recipient: a message sent again carried its first key.
    assert all(len(keys) == 1 for keys in sink.keys_by_recipient.values())
    assert len(sink.keys_by_recipient) == len(sink.accepted)


# -- PostgreSQL restarts in the middle of dispatch -------------------------------------

RESTART_TOUCHES = 3000


@pytest.mark.parametrize("outage", [0.0, 3.0], ids=["restart", "down-3s"])
def test_workers_reconnect_after_a_database_restart_and_lose_nothing(
    cluster: Cluster, database: str, workers: Workers, outage: float
) -> None:
    """A fast restart; or the server stopped for ``outage`` seconds while the workers run
    on and find no server to connect to, then started again."""
    _seed(database, RESTART_TOUCHES)
    # The sink holds its 650th request (mid-batch: batches are 100) until the server has
    # restarted: that worker meets the restart with a send in flight, outside any
    # transaction, where Django keeps a dead connection unless the worker closes it.
    with recording_sink(hold_at=650) as (sink, url):
        env = _env(database, url)
        procs = [workers.start(env, "--batch", "100", "--lease", "5") for _ in range(2)]
        workers.wait_for(sink.holding.is_set, 40, "650 messages before the restart")
        # Frozen, the workers cannot claim or record between reading what they hold and
        # the stop; a claim they had not committed dies with the old server.
        for proc in procs:
            os.kill(proc.pid, signal.SIGSTOP)
        try:
            held = _held(database)
            before = sink.total()
            if outage:
                cluster.stop()
            else:
                cluster.restart()
        finally:
            for proc in procs:
                os.kill(proc.pid, signal.SIGCONT)
            sink.release.set()
        if outage:
            time.sleep(outage)
            cluster.start()
        workers.wait_for(lambda: _open(database) == 0, 50, "every touch to end")
        alive = [proc.poll() is None for proc in procs]
        logs = [workers.log(proc) for proc in procs]
    print(f"\n[restart, down {outage:.0f} s] sent before {before}, held at the restart "
          f"{len(held)}, accepted {sink.total()}, duplicates "
          f"{sum(1 for n in sink.accepted.values() if n > 1)}")
    assert before < RESTART_TOUCHES  # the restart came mid-dispatch …
    assert held  # … with touches in the workers' hands
    assert any(re.search(r"dispatch \w+ failed", log) for log in logs)  # and they saw it
    assert alive == [True, True]
    _check(database, sink, held, RESTART_TOUCHES)


# -- a worker on another host is cut off mid-batch -------------------------------------

CUT_TOUCHES = 300
SLOW = 0.2  # seconds the sink takes to answer the cut-off worker: it is mid-batch a while
LEASE = "5"


@pytest.fixture
def other_host(cluster: Cluster) -> Iterator[Namespace]:
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    with namespace() as ns:
        cluster.allow(ns.network)
        cluster.listen_on(ns.host_address)
        cluster.restart()
        try:
            yield ns
        finally:
            cluster.listen_on()
            cluster.restart()


def _hold_enrollments(database_url: str, owner_like: str) -> psycopg.Connection[Any]:
    """Lock the enrollments of the touches a worker holds, in a transaction left open:
    when the worker records its batch it waits for them, inside its own transaction."""
    conn = psycopg.connect(database_url)
    conn.execute(
        "SELECT id FROM flows_enrollment WHERE id IN (SELECT enrollment_id FROM "
        "delivery_touch WHERE lease_owner LIKE %s AND state <> ALL(%s)) FOR UPDATE",
        (owner_like, list(FINAL)),
    )
    return conn


def _waits_for_a_lock(database_url: str, client: str) -> bool:
    return bool(_rows(
        database_url,
        "SELECT 1 FROM pg_stat_activity WHERE client_addr = %s AND wait_event_type = 'Lock'",
        client,
    ))


@pytest.mark.parametrize("moment", ["sending", "recording"])
def test_a_worker_cut_off_mid_batch_loses_nothing_its_touches_are_taken_over(
    cluster: Cluster, database: str, other_host: Namespace, workers: Workers, moment: str
) -> None:
    """Cut off while it sends (between two queries), or while it records its batch: its
    transaction then stays open on the server, holding the touches' rows, until the
    server ends it; the takeover must not wait for TCP to give up (hours)."""
    _seed(database, CUT_TOUCHES)
    remote_db = database.replace("@127.0.0.1:", f"@{other_host.host_address}:", 1)
    with recording_sink(other_host.host_address, other_host.address, SLOW) as (sink, url):
        remote = workers.start(
            # Five sends in flight at a time: at the cut some are out, the rest not yet.
            _env(remote_db, f"{url}?timeout=2"), "--batch", "25", "--concurrency", "5",
            "--lease", LEASE,
            prefix=tuple(other_host.command()),
        )
        mine = f"%:{remote.pid}:%"
        workers.wait_for(lambda: sink.from_peer(other_host.address) >= 5, 40,
                         "the worker in the namespace to be mid-batch")
        local = workers.start(_env(database, url), "--batch", "50", "--lease", LEASE)
        if moment == "recording":
            lock = _hold_enrollments(database, mine)
            workers.wait_for(lambda: _waits_for_a_lock(database, other_host.address), 20,
                             "the worker in the namespace to record its batch")
        other_host.cut()
        if moment == "recording":
            lock.commit()  # its transaction goes on, and waits for a client that is gone
            lock.close()
        # Whatever reached the sink's socket before the cut is answered within SLOW.
        time.sleep(SLOW * 5)
        from_remote = sink.from_peer(other_host.address)
        held = _held(database, mine)
        workers.wait_for(lambda: _open(database) == 0, 45, "every touch to end")
        after = sink.from_peer(other_host.address)
        alive = local.poll() is None
    print(f"\n[cut while {moment}] sent from the namespace {from_remote}, held there at "
          f"the cut {len(held)}, accepted {sink.total()}")
    assert 5 <= from_remote < CUT_TOUCHES
    assert held  # the cut came mid-batch: these were taken over after their lease
    assert after == from_remote  # nothing the cut-off worker sent afterwards arrived
    assert alive
    _check(database, sink, held, CUT_TOUCHES)
