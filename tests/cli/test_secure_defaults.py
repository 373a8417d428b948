"""Secure defaults: `touchflow serve` does not start on the trial's public secrets, and
Django's deployment checks pass with the README's production settings."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
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
