"""A real Chromium (Debian's package) driven by Playwright, at phone size.

Loaded as a plugin by ``tests/conftest.py``: any test may ask for ``page``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connections
from playwright.sync_api import Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch, settings: Any) -> Iterator[Page]:
    # Tests run on a fixed clock (tests/conftest.py) and Chromium on the real one: a
    # cookie whose expiry date the fixed clock wrote may already be past for the browser.
    settings.SESSION_EXPIRE_AT_BROWSER_CLOSE = True
    settings.CSRF_COOKIE_AGE = None
    # Playwright's sync API runs an event loop in this thread; Django refuses ORM calls
    # from a thread with a running loop unless told it is fine (these are plain tests).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True,
                                      has_touch=True)
        yield context.new_page()
        context.close()
        browser.close()
        # While Playwright's loop is set, Django keeps this test's database connections
        # apart from the thread's own (asgiref's Local), so nobody else would close them
        # and PostgreSQL could not drop the test database at the end.
        connections.close_all()
