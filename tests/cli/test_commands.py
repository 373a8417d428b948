from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from touchflow import demo
from touchflow.cli import build_app, run
from touchflow.customers.models import Customer
from touchflow.integrations.actions import authenticate
from touchflow.integrations.models import ApiToken
from touchflow.stores.models import Staff, Store
from touchflow.visits.models import Visit

runner = CliRunner()
TOUCHFLOW = Path(sys.executable).with_name("touchflow")


def test_help_explains_every_command() -> None:
    # A real process: the installed entry point, not just the Typer object.
    out = subprocess.run(
        [str(TOUCHFLOW), "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("serve", "demo", "import", "token", "migrate"):
        assert command in out
    assert "TOUCHFLOW_DATABASE_URL" in out


@pytest.mark.django_db
def test_token_create_prints_a_working_token_once(store: Store) -> None:
    result = runner.invoke(build_app(), ["token", "create", "pos-warsaw", "--store", store.slug])
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip().splitlines()[0]
    token = authenticate(secret)
    assert token is not None
    assert (token.name, token.store_id) == ("pos-warsaw", store.pk)
    assert secret not in ApiToken.objects.values_list("secret_hash", flat=True)


@pytest.mark.django_db
def test_token_create_refuses_a_duplicate_name_and_an_unknown_store() -> None:
    app = build_app()
    assert runner.invoke(app, ["token", "create", "pos"]).exit_code == 0
    duplicate = runner.invoke(app, ["token", "create", "pos"])
    assert duplicate.exit_code == 2
    assert "already exists" in duplicate.output
    unknown = runner.invoke(app, ["token", "create", "other", "--store", "nowhere"])
    assert unknown.exit_code == 2
    assert "--store" in unknown.output
    assert ApiToken.objects.count() == 1


@pytest.mark.django_db
def test_revoked_token_stops_working() -> None:
    app = build_app()
    secret = runner.invoke(app, ["token", "create", "pos"]).stdout.strip().splitlines()[0]
    assert runner.invoke(app, ["token", "revoke", "pos"]).exit_code == 0
    assert authenticate(secret) is None


@pytest.mark.django_db
def test_demo_data_loads_once_with_every_role(transactional_db: None) -> None:
    logins = demo.load(seed=3, visitors_per_store=30)
    assert {role for _user, role, _stores in logins} == {"Admin", "Manager", "Salesperson"}
    assert Store.objects.count() == 2
    counts = (Customer.objects.count(), Visit.objects.count(), Staff.objects.count())
    assert counts[0] > 10 and counts[1] >= 60
    demo.load(seed=3, visitors_per_store=30)
    assert (Customer.objects.count(), Visit.objects.count(), Staff.objects.count()) == counts
    # Every visit class appears, and grey visits (not asked) are there to coach on.
    assert set(Visit.objects.values_list("visit_class", flat=True)) == {
        "type1",
        "type2",
        "type3",
        "type4",
        "grey",
    }


def test_a_busy_port_is_reported_once_and_nothing_claims_to_listen(settings: Any) -> None:
    settings.DEBUG = True  # serve would otherwise stop first at the trial secret key
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for command in (["serve", "--no-migrate"], ["demo"]):
            result = runner.invoke(build_app(), [*command, "--port", str(port)])
            assert result.exit_code == 1
            assert result.output.count("already in use") == 1, result.output
            assert f"PORT={port + 1}" in result.output
            assert "Touchflow on" not in result.output


def test_links_follow_the_port_unless_a_public_url_is_set() -> None:
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]
    env = run.listen_env("127.0.0.1", port, {})
    assert env["TOUCHFLOW_PUBLIC_URL"] == f"http://127.0.0.1:{port}"
    assert run.listen_env("0.0.0.0", port, {})["TOUCHFLOW_PUBLIC_URL"] == (
        f"http://127.0.0.1:{port}"
    )
    public = {"TOUCHFLOW_PUBLIC_URL": "https://care.example.com"}
    assert run.listen_env("127.0.0.1", port, public)["TOUCHFLOW_PUBLIC_URL"] == (
        "https://care.example.com"
    )
