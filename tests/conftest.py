"""Factory fixtures shared by every test package.

The same suite runs on SQLite (default) and on PostgreSQL when
``TOUCHFLOW_DATABASE_URL`` points at one (``make test`` runs both).
"""

from __future__ import annotations

import importlib
import itertools
import os
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine

from touchflow.integrations.actor import Actor
from touchflow.stores.models import Category, Role, Staff, Store

# The ``page`` fixture: a real Chromium for the browser tests.
pytest_plugins = ["tests.web.browser"]

_seq = itertools.count(1)

# Every test runs on a fixed clock: a Tuesday in June, 12:00 UTC (14:00 in Warsaw, 13:00
# in London), ticking from there. No test sees the real date, time of day or day of the
# week (a browser test once failed on a Sunday at 16:20 UTC); a test that moves the
# clock itself (time_machine.travel) overrides this one while it does. A test whose
# subprocesses must share the machine's real clock says so with
# ``@pytest.mark.wall_clock("why")``; tests/test_determinism.py keeps that list short.
FIXED_NOW = datetime(2026, 6, 2, 12, 0, tzinfo=UTC)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "wall_clock(reason): runs on the machine's real clock (subprocesses)"
    )


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--shuffle", type=int, default=None, metavar="SEED",
        help="Run the tests in a random order from SEED, to find tests that need another "
        "test to run first.",
    )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    seed = config.getoption("--shuffle")
    if seed is not None:
        random.Random(seed).shuffle(items)


@pytest.fixture(autouse=True)
def _fixed_clock(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.node.get_closest_marker("wall_clock") is not None:
        yield
        return
    with time_machine.travel(FIXED_NOW, tick=True):
        yield


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """Give each PostgreSQL test run its own database, so runs side by side don't collide."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("postgresql"):
        db.setdefault("TEST", {})
        db["TEST"]["NAME"] = f"test_{db['NAME']}_{os.getpid()}"


@pytest.fixture(autouse=True)
def _builtin_reasons(request: pytest.FixtureRequest) -> None:
    """Transactional tests empty every table when they end, the rows data migrations
    loaded included; put the built-in reasons back for the tests that run after them."""
    names = set(request.fixturenames)
    marker = request.node.get_closest_marker("django_db")
    if (
        "transactional_db" in names
        or "live_server" in names
        or (marker is not None and marker.kwargs.get("transaction"))
    ):
        request.getfixturevalue("transactional_db")
    elif "db" in names or marker is not None:
        request.getfixturevalue("db")
    else:
        return
    from django.apps import apps

    from touchflow.visits.models import Reason

    if not Reason.objects.filter(builtin=True).exists():
        importlib.import_module("touchflow.visits.migrations.0002_builtin_reasons").add(apps, None)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """PBKDF2 is slow on purpose; tests hash dozens of passwords and need no such defence."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Per-process caches would outlive each test's rolled-back rows; the cache's own
    # tests turn it back on.
    settings.TOUCHFLOW_CACHE_SECONDS = 0


def assert_no_stranded_enrollments() -> None:
    """Issue 13: an enrollment is never left active without an open touch (a queued or
    paused one) — else nothing ever sends its next step or completes it. Call it at the
    end of a test that drives the engine; ``touchflow doctor`` runs the same query."""
    from touchflow.delivery.segments import stranded_enrollments

    stranded = list(stranded_enrollments().values_list("pk", "flow__slug", "customer_id"))
    assert stranded == [], f"active enrollments without an open touch (id, chain, customer): " \
        f"{stranded}"


@pytest.fixture
def make_store(db: None) -> Callable[..., Store]:
    def make(**fields: Any) -> Store:
        n = next(_seq)
        defaults: dict[str, Any] = {
            "name": f"Store {n}",
            "slug": f"store-{n}",
            "country": "PL",
            "time_zone": "Europe/Warsaw",
            "language": "pl",
            "currency": "PLN",
            "telegram_bot": "touchflow_demo_bot",
        }
        defaults.update(fields)
        return Store.objects.create(**defaults)

    return make


@pytest.fixture
def store(make_store: Callable[..., Store]) -> Store:
    return make_store(name="Warsaw Centre", slug="warsaw")


@pytest.fixture
def make_staff(db: None) -> Callable[..., Staff]:
    def make(
        role: str = Role.SALESPERSON,
        stores: list[Store] | None = None,
        password: str = "counter-pass-1",
        **fields: Any,
    ) -> Staff:
        n = next(_seq)
        staff = Staff.objects.create_user(
            username=fields.pop("username", f"staff{n}"),
            password=password,
            role=role,
            is_staff=role in (Role.ADMIN, Role.MANAGER),
            is_superuser=role == Role.ADMIN,
            **fields,
        )
        if stores:
            staff.stores.set(stores)
        return staff

    return make


@pytest.fixture
def salesperson(make_staff: Callable[..., Staff], store: Store) -> Staff:
    return make_staff(Role.SALESPERSON, [store], username="sam")


@pytest.fixture
def manager(make_staff: Callable[..., Staff], store: Store) -> Staff:
    return make_staff(Role.MANAGER, [store], username="maria")


@pytest.fixture
def admin_staff(make_staff: Callable[..., Staff]) -> Staff:
    return make_staff(Role.ADMIN, [], username="ada")


@pytest.fixture
def counter_actor(salesperson: Staff) -> Actor:
    return Actor(source="counter", staff=salesperson)


@pytest.fixture
def categories(db: None) -> list[Category]:
    return [
        Category.objects.create(slug="sofas", name_en="Sofas", name_ru="Диваны", name_pl="Sofy"),
        Category.objects.create(slug="tables", name_en="Tables", name_ru="Столы", name_pl="Stoły"),
    ]
