"""Secure defaults: `touchflow serve` does not start on the trial's public secrets, and
Django's deployment checks pass with the README's production settings."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import typer
from rich.console import Console

from tests.paths import REPO
from touchflow.cli.secrets_check import refuse_trial_secrets

TOUCHFLOW = Path(sys.executable).parent / "touchflow"
DJANGO_ADMIN = Path(sys.executable).parent / "django-admin"


def _env(**values: str) -> dict[str, str]:
    """This process's environment without any TOUCHFLOW_* setting, plus ``values``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOUCHFLOW_")}
    return {**env, "DJANGO_SETTINGS_MODULE": "touchflow.settings", **values}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_refuses_the_trial_secret_key_and_nothing_listens(tmp_path: Path) -> None:
    port = _free_port()
    result = subprocess.run(
        [str(TOUCHFLOW), "serve", "--no-migrate", "--no-worker", "--port", str(port)],
        env=_env(TOUCHFLOW_VAR_DIR=str(tmp_path)), capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    out = " ".join(result.stdout.split())
    assert "TOUCHFLOW_SECRET_KEY is not set" in out
    assert "TOUCHFLOW_CREDENTIALS_KEY is not set" in out
    assert "touchflow demo" in out
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0


def test_the_trial_key_refused_even_with_a_credentials_key(settings: Any) -> None:
    settings.SECRET_KEY = settings.TRIAL_SECRET_KEY
    settings.TOUCHFLOW_CREDENTIALS_KEY = "k7GafbCxf9vgZPvuZUKpUI_mO63B0ZeznLLATQZEdZs="
    settings.DEBUG = False
    console = Console(record=True, width=200)
    with pytest.raises(typer.Exit) as exit_:
        refuse_trial_secrets(console)
    assert exit_.value.exit_code == 2
    text = console.export_text()
    assert "TOUCHFLOW_SECRET_KEY is not set" in text
    assert "TOUCHFLOW_CREDENTIALS_KEY is not set" not in text


def test_debug_mode_only_warns(settings: Any) -> None:
    settings.SECRET_KEY = settings.TRIAL_SECRET_KEY
    settings.DEBUG = True
    console = Console(record=True, width=200)
    refuse_trial_secrets(console)
    assert "starting anyway" in console.export_text()


def test_an_own_secret_key_starts(settings: Any) -> None:
    settings.SECRET_KEY = "x" * 60
    settings.DEBUG = False
    console = Console(record=True, width=200)
    refuse_trial_secrets(console)
    assert console.export_text() == ""


def _production_block() -> str:
    readme = (REPO / "README.md").read_text()
    found = re.search(r"<!-- production-settings -->\n```sh\n(.*?)```", readme, re.S)
    assert found, "README.md lost its production settings block"
    return found.group(1)


def _deploy_check(env: dict[str, str], prelude: str = "") -> subprocess.CompletedProcess[str]:
    script = f"{prelude}\nexec {DJANGO_ADMIN} check --deploy --fail-level WARNING"
    return subprocess.run(["bash", "-c", script], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)


def test_deploy_checks_pass_with_the_readme_production_settings(tmp_path: Path) -> None:
    result = _deploy_check(_env(TOUCHFLOW_VAR_DIR=str(tmp_path)), _production_block())
    assert result.returncode == 0, result.stdout + result.stderr
    # The one silenced check is HSTS preload (W021): the domain owner's decision.
    assert result.stdout.strip() == "System check identified no issues (1 silenced)."
    assert result.stderr == ""


def test_deploy_checks_name_every_missing_production_setting(tmp_path: Path) -> None:
    result = _deploy_check(_env(TOUCHFLOW_VAR_DIR=str(tmp_path)))
    assert result.returncode == 1
    for check in ("security.W004", "security.W008", "security.W009", "security.W012",
                  "security.W016", "touchflow.W001"):
        assert check in result.stderr, check
    # An own secret key without a credentials key: the credentials would not survive a
    # change of secret key.
    result = _deploy_check(_env(TOUCHFLOW_VAR_DIR=str(tmp_path), TOUCHFLOW_HTTPS="true",
                                TOUCHFLOW_SECRET_KEY="k" * 20 + "abcdefghijklmnopqrstuvwxyz0123"))
    assert result.returncode == 1
    assert "touchflow.W002" in result.stderr
    assert "security.W009" not in result.stderr


def test_a_terminated_serve_stops_its_web_server_and_worker(tmp_path: Path) -> None:
    """`kill` (or a service manager's stop) ends serve with SIGTERM: gunicorn and the
    worker stop with it, and the port is free again."""
    port = _free_port()
    env = _env(TOUCHFLOW_VAR_DIR=str(tmp_path), TOUCHFLOW_SECRET_KEY="k" * 50,
               TOUCHFLOW_CREDENTIALS_KEY="x8dxNQXbJz5bDvXr_Ic8Iqd6jpRC2m6kTxgECIcKHKY=")
    serve = subprocess.Popen(
        [str(TOUCHFLOW), "serve", "--port", str(port), "--workers", "1"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        _wait_until(lambda: _listening(port), serve)
        children = _children(serve.pid)
        assert len(children) == 2  # gunicorn and the worker
        serve.terminate()
        serve.wait(timeout=30)
        assert not _listening(port)
        assert all(not Path(f"/proc/{pid}").exists() or _zombie(pid) for pid in children)
    finally:
        if serve.poll() is None:
            serve.kill()


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _wait_until(ready: Any, process: subprocess.Popen[str]) -> None:
    for _ in range(600):  # the real web server's start-up: migrations, gunicorn boot
        if ready():
            return
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        time.sleep(0.1)
    raise AssertionError("serve did not start listening")


def _children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(p) for p in found]


def _zombie(pid: int) -> bool:
    return " Z " in Path(f"/proc/{pid}/stat").read_text()
