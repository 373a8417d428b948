"""Fixtures for the web UI tests: compiled translations, a clean cache, signed-in clients."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from touchflow.stores.models import Staff

LOCALE = Path(__file__).resolve().parents[2] / "touchflow" / "locale"


@pytest.fixture(scope="session", autouse=True)
def compiled_messages() -> None:
    """Compile the catalogues (``make messages`` does the same; .mo files are not committed).

    Django caches catalogues per process, so the cache is dropped after compiling.
    """
    for po in sorted(LOCALE.glob("*/LC_MESSAGES/django.po")):
        subprocess.run(["msgfmt", "--check", "-o", str(po.with_suffix(".mo")), str(po)],
                       check=True)
    from django.utils.translation import trans_real

    trans_real._translations = {}  # type: ignore[attr-defined]
    trans_real._default = None  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def clean_cache() -> Iterator[None]:
    """Login throttling counts failures in the cache; no test may inherit another's."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def fast_passwords(settings: Any) -> None:
    """Real hashing costs seconds per sign-in; these tests are about the flow, not the hash."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def login_client(db: None) -> Callable[[Staff], Client]:
    def make(staff: Staff) -> Client:
        client = Client()
        client.force_login(staff)
        return client

    return make
