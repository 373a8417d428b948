"""Fresh, throw-away databases for a benchmark run: an SQLite file or a PostgreSQL database.

Every benchmark talks only to 127.0.0.1 and drops what it created, even on failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
VAR = ROOT / "var" / "bench"
ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextmanager
def fresh_database(kind: str, name: str) -> Iterator[str]:
    """Yield the TOUCHFLOW_DATABASE_URL of a new, migrated, empty database; drop it after."""
    if kind == "sqlite":
        VAR.mkdir(parents=True, exist_ok=True)
        path = VAR / f"{name}.sqlite3"
        _remove_sqlite(path)
        url = f"sqlite:///{path}"
        try:
            migrate(url)
            yield url
        finally:
            _remove_sqlite(path)
        return
    _postgres(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _postgres(f'CREATE DATABASE "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        migrate(url)
        yield url
    finally:
        _postgres(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _postgres(sql: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def env_for(url: str) -> dict[str, str]:
    return {**os.environ, "TOUCHFLOW_DATABASE_URL": url, "COLUMNS": "200"}


def migrate(url: str) -> None:
    subprocess.run([str(BIN / "touchflow"), "migrate"], env=env_for(url), check=True,
                   stdout=subprocess.DEVNULL, timeout=300)


def helper(url: str, *args: str) -> str:
    """Run ``python -m bench.dbtool ARGS`` against ``url``; return its stdout."""
    return subprocess.run([sys.executable, "-m", "bench.dbtool", *args], env=env_for(url),
                          cwd=ROOT, check=True, capture_output=True, text=True,
                          timeout=120).stdout


def machine_speed() -> float:
    """Seconds for ``sum(i * i for i in range(10**7))``, best of three: the sessions'
    machines differ by up to 2× in speed, so every figure is printed beside this one."""
    def once() -> float:
        started = time.perf_counter()
        sum(i * i for i in range(10**7))
        return time.perf_counter() - started
    return min(once() for _ in range(3))
