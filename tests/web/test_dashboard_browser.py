"""The dashboard in a real Chromium (issue 11): in each language, at desktop and phone
size, the charts drawn over their tables with no CSP violation and nothing wider than
the screen; a bar opens the visits behind it; a panel downloads as CSV. Screenshots are
kept as test artefacts under ``var/screenshots/``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from tests.paths import REPO
from tests.web.browser import PHONE
from tests.web.test_counter_browser import _sign_in
from tests.web.test_csp_browser import _violations, _watch
from touchflow.customers.actions import ContactInput
from touchflow.funnel.visits import log_visit
from touchflow.integrations.actor import Actor
from touchflow.stores.models import Role, Staff, Store

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = REPO / "var" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}


def _visits(store: Store, sellers: list[Staff]) -> None:
    plan = [("not_attempted", False), ("not_attempted", False), ("taken", False),
            ("refused", True), ("taken", True)]
    for n, seller in enumerate(sellers):
        for m, (capture, bought) in enumerate(plan[: 3 + n]):
            contacts = [ContactInput("email", f"c{n}{m}@example.com")] if capture == "taken" else []
            log_visit(store=store, actor=Actor(source="counter", staff=seller), bought=bought,
                      contact_capture=capture, contacts=contacts,
                      reason=None if bought else "just_looking")


@pytest.mark.parametrize("language", ["en", "ru", "pl"])
def test_the_dashboard_draws_in_each_language_at_both_sizes(
    page: Page, live_server: Any, store: Store, make_staff: Any, language: str,
) -> None:
    sellers = [make_staff(stores=[store], first_name=name) for name in ("Anna", "Bogdan")]
    make_staff(Role.MANAGER, [store], username="maria", language=language)
    _visits(store, sellers)
    console = _watch(page)
    base = live_server.url
    _sign_in(page, base, "maria")
    SHOTS.mkdir(parents=True, exist_ok=True)
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        page.goto(f"{base}/dashboard/")
        page.wait_for_selector("#panel-visits .chart-canvas svg")
        assert page.locator("html").get_attribute("lang") == language
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        page.screenshot(path=str(SHOTS / f"dashboard-{language}-{size}.png"), full_page=True)
    assert _violations(page) + console == []


def test_a_bar_opens_its_visits_and_a_panel_downloads_as_csv(
    page: Page, live_server: Any, store: Store, make_staff: Any, tmp_path: Path,
) -> None:
    anna = make_staff(stores=[store], first_name="Anna")
    make_staff(Role.MANAGER, [store], username="maria")
    _visits(store, [anna])
    base = live_server.url
    _sign_in(page, base, "maria")
    page.set_viewport_size(DESKTOP)
    page.goto(f"{base}/dashboard/")
    with page.expect_download() as download:
        page.click("#panel-visits a[download]")
    saved = tmp_path / "visits.csv"
    download.value.save_as(saved)
    assert saved.read_text().splitlines()[1].startswith("Anna")
    # The grey cell's link is what a click on the grey bar opens.
    page.click("#panel-visits td a[href*='visit_class=grey']")
    page.wait_for_url("**/visits/**")
    assert page.locator("tbody tr").count() == 2
