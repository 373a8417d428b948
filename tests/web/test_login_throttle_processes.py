"""Login throttling holds across processes: a failure one process records locks the
username in another, as with gunicorn's workers or several web servers behind a
balancer (each process here is a Python of its own on the same database)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.db import connection

from tests.paths import REPO
from tests.servers import free_port

PASSWORD = "right-pass-1"


@pytest.fixture(scope="module")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated once by a process like the others; each test copies it."""
    path = tmp_path_factory.mktemp("throttle") / "template.sqlite3"
    if not connection.settings_dict["ENGINE"].endswith("postgresql"):
        _run(f"sqlite:///{path}", "migrate")
    return path


@pytest.fixture
def database_url(transactional_db: None, migrated_sqlite: Path, tmp_path: Path) -> str:
    """PostgreSQL: this run's test database (committed rows, so others see them).
    SQLite: a file of its own (the test run's SQLite database lives in memory, which no
    other process can open)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("postgresql"):
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        return (f"postgresql://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:"
                f"{db['PORT'] or 5432}/{db['NAME']}")
    path = tmp_path / "shared.sqlite3"
    shutil.copyfile(migrated_sqlite, path)
    return f"sqlite:///{path}"


def _popen(url: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "TOUCHFLOW_DATABASE_URL": url, "TOUCHFLOW_VAR_DIR": str(REPO / "var")}
    return subprocess.Popen([sys.executable, "-m", "tests.web.login_process", *args], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _result(process: subprocess.Popen[str]) -> Any:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return json.loads(out) if out.strip() else None


def _run(url: str, *args: str) -> Any:
    return _result(_popen(url, *args))


def test_failures_in_one_process_lock_the_username_in_another(database_url: str) -> None:
    _run(database_url, "staff", "sam", PASSWORD, "salesperson")
    first = _run(database_url, "login", "/login/", "sam", "wrong", "5", "10.0.0.1")
    assert first == {"codes": [200] * 5, "signed_in": False}
    second = _run(database_url, "login", "/login/", "sam", PASSWORD, "1", "10.0.0.2")
    assert second == {"codes": [429], "signed_in": False}


def test_three_processes_guessing_at_once_get_five_guesses_in_all(database_url: str) -> None:
    """The report: with three gunicorn workers, 15 wrong passwords were checked. Now the
    three processes together get the username's five, whatever their interleaving."""
    _run(database_url, "staff", "sam", PASSWORD, "salesperson")
    guessers = [_popen(database_url, "login", "/login/", "sam", "wrong", "5", f"10.0.1.{n}")
                for n in range(3)]
    codes = [code for g in guessers for code in _result(g)["codes"]]
    assert sorted(codes) == [200] * 5 + [429] * 10
    last = _run(database_url, "login", "/login/", "sam", PASSWORD, "1", "10.0.2.1")
    assert last == {"codes": [429], "signed_in": False}


def test_admin_login_is_locked_by_failures_in_another_process(database_url: str) -> None:
    _run(database_url, "staff", "ada", PASSWORD, "admin")
    first = _run(database_url, "login", "/admin/login/", "ada", "wrong", "5", "10.0.3.1")
    assert first == {"codes": [200] * 5, "signed_in": False}
    second = _run(database_url, "login", "/admin/login/", "ada", PASSWORD, "1", "10.0.3.2")
    assert second == {"codes": [200], "signed_in": False}
    # The web's own door is locked for the same account too.
    third = _run(database_url, "login", "/login/", "ada", PASSWORD, "1", "10.0.3.3")
    assert third == {"codes": [429], "signed_in": False}


def _wait_for(url: str, server: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert server.poll() is None, "gunicorn exited"
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer")


def _http_login(base: str, username: str, password: str) -> int:
    """One sign-in as a browser makes it: a fresh session, the form's CSRF token, a POST."""
    with httpx.Client(base_url=base, timeout=30) as browser:
        form = browser.get("/login/").text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
        assert token is not None
        return browser.post("/login/", data={"csrfmiddlewaretoken": token.group(1),
                                             "username": username, "password": password},
                            headers={"Referer": f"{base}/login/"}).status_code


def test_gunicorn_with_three_workers_checks_five_passwords_not_fifteen(
    database_url: str,
) -> None:
    """The report's own setup: gunicorn with three sync workers, as `touchflow serve` runs it."""
    _run(database_url, "staff", "sam", PASSWORD, "salesperson")
    port = free_port()
    env = {**os.environ, "TOUCHFLOW_DATABASE_URL": database_url,
           "TOUCHFLOW_SECRET_KEY": "k" * 30 + "abcdefghijklmnopqrstuvwxyz",
           "TOUCHFLOW_VAR_DIR": str(REPO / "var")}
    gunicorn = [str(Path(sys.executable).parent / "gunicorn"), "touchflow.wsgi:application",
                "--bind", f"127.0.0.1:{port}", "--workers", "3"]
    server = subprocess.Popen(gunicorn, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for(f"{base}/login/", server)
        codes = [_http_login(base, "sam", "wrong") for _ in range(15)]
        assert codes == [200] * 5 + [429] * 10
        assert _http_login(base, "sam", PASSWORD) == 429
    finally:
        server.terminate()
        server.wait(timeout=30)
