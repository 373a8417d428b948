"""The chain editor in a real Chromium at tablet size, in Polish (issue 12): a chain made
from nothing, a pushy phrase flagged with its suggestion and fixed, the chain activated
and entered by a visit; then edited while running, the enrolled customer going on with
the new version."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page

from tests.web.test_counter_browser import _sign_in
from touchflow.customers.actions import ConsentGrant, ContactInput
from touchflow.delivery.models import Touch
from touchflow.flows.models import Flow, FlowStatus
from touchflow.funnel.visits import log_visit
from touchflow.integrations.actor import Actor
from touchflow.stores.models import Staff, Store

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TABLET = {"width": 820, "height": 1180}


def _fits(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], width  # type: ignore[index]


def _save(page: Page) -> None:
    page.click("button[name=action][value=save]")
    page.wait_for_url("**/chains/po-wizycie/")


def _activate(page: Page, number: int) -> None:
    page.click(f"a[href$='/versions/{number}/activate/']")
    page.wait_for_url(f"**/versions/{number}/activate/")
    for box in page.locator("input[name=acknowledged]").all():
        box.check()
    page.click("form.activate button[type=submit]")
    page.wait_for_url("**/chains/po-wizycie/")


def test_a_manager_makes_a_chain_in_polish_fixes_a_pushy_phrase_and_runs_it(
    page: Page, live_server: Any, manager: Staff, salesperson: Staff, store: Store,
    fast_passwords: None,
) -> None:
    manager.language = "pl"
    manager.save(update_fields=["language"])
    page.set_viewport_size(TABLET)
    base = live_server.url
    _sign_in(page, base, "maria")
    page.goto(f"{base}/chains/new/")
    assert page.locator("h1").inner_text() == "Nowy łańcuch"
    page.fill("#slug", "po-wizycie")
    page.fill("#name-pl", "Po wizycie")
    page.fill("#s0-key", "podziekowanie")
    page.fill("#s0-title-pl", "Podziękowanie")
    page.select_option("#s0-kind", "gratitude")
    page.fill("#s0-after", "1h")
    page.locator("details.template").filter(has=page.locator("#s0-text-pl")).locator(
        "summary").click()
    preview = page.locator("#s0-preview-pl")
    page.fill("#s0-text-pl", "{{ greeting }} Ostatnia szansa! Kup dziś, jutro będzie za późno.")
    page.wait_for_selector("#s0-preview-pl .tone-flag")
    flagged = preview.inner_text()
    assert "Rozważ:" in flagged  # a kinder wording is suggested
    assert "Dzień dobry, Anna!" in flagged  # as the sample customer gets it
    _fits(page)

    page.fill("#s0-text-pl", "{{ greeting }} Dziękujemy za wizytę w {{ store.name }}.")
    page.wait_for_selector("#s0-preview-pl .tone-ok")
    _save(page)
    flow = Flow.objects.get(slug="po-wizycie")
    assert (flow.status, flow.title) == (FlowStatus.DRAFT, "Po wizycie")

    page.click("button[name=status][value=active]")  # never activated: the checks first
    page.wait_for_url("**/versions/1/activate/")
    page.click("form.activate button[type=submit]")
    page.wait_for_url("**/chains/po-wizycie/")
    flow.refresh_from_db()
    assert flow.status == FlowStatus.ACTIVE

    visit, _ = log_visit(store=store, actor=Actor(source="counter", staff=salesperson),
                         bought=False, reason="just_looking", contact_capture="taken",
                         name="Ewa Nowak", contacts=[ContactInput("phone", "+48501234111")],
                         language="pl", consent=ConsentGrant(contact=True, marketing=False))
    touch = Touch.objects.get(enrollment__flow=flow, customer=visit.customer)
    assert touch.state == "queued"

    # Edited while running: saved as version 2, which waits; activated, the customer's
    # queued touch goes on with the new text.
    page.click("a[href$='/edit/']")
    page.wait_for_url("**/edit/")
    page.locator("details.template").filter(has=page.locator("#s0-text-pl")).locator(
        "summary").click()
    page.fill("#s0-text-pl", "{{ greeting }} Dziękujemy za odwiedziny w {{ store.name }}.")
    _save(page)
    assert "Wersja 2 jest zapisana" in page.locator("main").inner_text()
    touch.refresh_from_db()
    assert "wizytę" in touch.step.messages["pl"]["text"]
    _activate(page, 2)
    touch.refresh_from_db()
    flow.refresh_from_db()
    assert flow.version == 2 and touch.state == "queued"
    assert "odwiedziny" in touch.step.messages["pl"]["text"]
    _fits(page)
