"""The suite cannot come to depend on the real date, time of day or day of the week."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from tests.conftest import FIXED_NOW
from touchflow.core import clock

TESTS = Path(__file__).resolve().parent
# Tests whose subprocesses must read the machine's clock, and why that is safe there.
WALL_CLOCK = {
    "delivery/test_crash.py": "workers hold leases in real time; every touch is due at once",
    "delivery/test_resilience.py": "workers hold leases in real time; every touch is due at "
    "once",
    "delivery/test_worker_stop.py": "a worker subprocess holds leases in real time",
    "delivery/test_caps_concurrency.py": "worker subprocesses hold leases in real time; "
    "the store is in UTC without quiet hours and its cap counts days, so no hour or weekday "
    "changes what may go",
}


def test_every_test_runs_on_the_fixed_clock() -> None:
    now = clock.now()
    assert FIXED_NOW <= now < FIXED_NOW + timedelta(hours=1)
    assert now.strftime("%A") == "Tuesday"


def test_only_the_listed_tests_run_on_the_wall_clock() -> None:
    users = {
        path.relative_to(TESTS).as_posix()
        for path in TESTS.rglob("*.py")
        if path.name != "conftest.py" and re.search(r"mark\.wall_clock\(", path.read_text())
    }
    assert users == set(WALL_CLOCK)


def test_no_test_escapes_the_fixed_clock() -> None:
    escapes = [
        path.relative_to(TESTS).as_posix()
        for path in TESTS.rglob("*.py")
        if path.name != Path(__file__).name and "escape_hatch" in path.read_text()
    ]
    assert escapes == []
