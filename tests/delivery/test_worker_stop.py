"""SIGTERM stops a worker within a few seconds (issue 13): it sends nothing new,
records what is in flight, hands back the rest of its claim, and exits.

A real ``touchflow worker`` claims 500 touches against a provider that takes a second
to answer, so most of its claim is still waiting when the signal comes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from django.conf import settings

from tests.delivery.crash_sink import crash_sink
from tests.delivery.test_crash import TOUCHFLOW, _database_url, _setup_touches
from touchflow.delivery.models import Touch

pytestmark = [
    pytest.mark.skipif(
        not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
        reason="the worker subprocess shares the test database only on PostgreSQL; "
        "run with TOUCHFLOW_DATABASE_URL=postgresql://… (CI does)",
    ),
    pytest.mark.wall_clock("the worker subprocess holds leases on the machine's clock"),
]

STOPPED_WITHIN = 10.0  # seconds: the grace for answers in flight (5 s) and some slack


def _in_flight() -> int:
    return Touch.objects.filter(state="queued", in_flight_at__isnull=False).count()


@pytest.mark.django_db(transaction=True)
def test_sigterm_records_what_is_in_flight_hands_back_the_rest_and_exits(
    tmp_path: Path,
) -> None:
    _setup_touches()
    with crash_sink(latency=1.0) as (sink, url):
        env = {**os.environ, "TOUCHFLOW_DATABASE_URL": _database_url(),
               "TOUCHFLOW_CHANNELS": f"sms={url}"}
        with (tmp_path / "worker.log").open("wb") as log:
            proc = subprocess.Popen(
                [str(TOUCHFLOW), "worker", "--batch", "500", "--idle", "0.05"],
                env=env, stdout=log, stderr=subprocess.STDOUT,
            )
        try:
            deadline = time.monotonic() + 60
            while _in_flight() == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _in_flight() > 0, "the worker never got a send in flight"
            proc.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            code = proc.wait(timeout=60)
            took = time.monotonic() - signalled
        finally:
            if proc.poll() is None:
                proc.kill()
        requests_at_exit = sink.requests
    assert code == 0, (tmp_path / "worker.log").read_text()
    assert took < STOPPED_WITHIN, f"stopped {took:.1f} s after SIGTERM"
    # Everything it let go was recorded; nothing it holds is left leased or in flight.
    sent = set(Touch.objects.filter(state="sent").values_list("idempotency_key", flat=True))
    assert sent == set(sink.accepted)
    assert sent  # some went out before the signal
    assert not Touch.objects.exclude(lease_owner="").exists()
    assert _in_flight() == 0
    # The rest went back to the queue untouched, claimable at once by another worker.
    assert Touch.objects.filter(state="queued").count() == len(_all()) - len(sent)
    assert requests_at_exit == len(sent)


def _all() -> list[int]:
    return list(Touch.objects.values_list("id", flat=True))
