"""``touchflow health``: every store's relationship health rebuilt now, a summary per
store, and refusals that name the option."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tests.health.conftest import (  # noqa: F401 - fixtures pytest finds by their names
    TODAY,
    People,
    krakow_fixture,
    people_fixture,
)
from touchflow.cli import build_app
from touchflow.health.models import CustomerHealth, StoreFit
from touchflow.stores.models import Store

pytestmark = pytest.mark.django_db
runner = CliRunner()


@pytest.fixture(autouse=True)
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    """A terminal wide enough for the whole table."""
    monkeypatch.setenv("COLUMNS", "200")



def test_health_refreshes_every_store_and_prints_a_line_each(
        store: Store, krakow: Store, people: People) -> None:
    people.buys(store, people.customer(store), 60, 50, 40, 30)
    people.buys(store, people.customer(store), 25, 15, 5)
    people.visits(krakow, "+48501000999", 30)

    result = runner.invoke(build_app(), ["health", "--today", TODAY.isoformat()])

    assert result.exit_code == 0, result.output
    lines = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]]
             for line in result.stdout.splitlines() if line.startswith("│")}
    assert lines["warsaw"][:7] == ["2026-06-02", "2", "1", "0", "0", "10", "—"]
    assert lines["warsaw"][7] == "short history"
    assert lines["krakow"][:7] == ["2026-06-02", "0", "0", "1", "0", "—", "—"]
    assert CustomerHealth.objects.count() == 3
    assert set(StoreFit.objects.values_list("as_of", flat=True)) == {TODAY}


def test_health_for_one_store_on_its_own_today(store: Store, krakow: Store,
                                               people: People) -> None:
    people.buys(store, people.customer(store), 60, 50, 40, 30)

    result = runner.invoke(build_app(), ["health", "--store", "warsaw"])

    assert result.exit_code == 0, result.output
    assert "warsaw" in result.stdout and "krakow" not in result.stdout
    # The suite's clock: 2026-06-02 14:00 in Warsaw.
    assert list(StoreFit.objects.values_list("store__slug", "as_of")) == [("warsaw", TODAY)]


@pytest.mark.parametrize(("args", "message"), [
    (["--store", "nowhere"], "--store: no store with slug 'nowhere'"),
    (["--today", "2026-13-01"], "--today: not a date like 2026-06-02: '2026-13-01'"),
    (["--today", "yesterday"], "--today: not a date like 2026-06-02: 'yesterday'"),
])
def test_a_bad_option_is_refused_by_name_and_nothing_is_written(
        store: Store, args: list[str], message: str) -> None:
    result = runner.invoke(build_app(), ["health", *args])

    assert result.exit_code == 2
    assert message in result.stderr
    assert not StoreFit.objects.exists()
