"""The Content-Security-Policy holds in a real Chromium: every main page — ours, the
Django admin's and the API docs (Swagger UI) — loads and works with 0 violations."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Page

from tests.web.conftest import FOLLOW_UP
from tests.web.test_counter_browser import _sign_in
from touchflow.customers.actions import ConsentGrant, ContactInput
from touchflow.delivery.render import unsubscribe_token
from touchflow.flows.actions import load_flow_text
from touchflow.funnel.chains import set_status
from touchflow.funnel.visits import log_visit
from touchflow.integrations.actor import Actor
from touchflow.stores.models import Role, Store

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Each violation lands here, whichever way the browser reports it.
RECORD = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(
    `${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


def _watch(page: Page) -> list[str]:
    seen: list[str] = []
    page.add_init_script(RECORD)

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            seen.append(f"{page.url}: {message.text}")

    page.on("console", on_console)
    return seen


def _violations(page: Page) -> list[str]:
    return [f"{page.url}: {v}" for v in page.evaluate("window.__violations || []")]


def test_main_pages_load_without_a_csp_violation(
    page: Page, live_server: Any, store: Store, make_staff: Any,
) -> None:
    store.telegram_bot = "shop_bot"  # the counter shows its QR code (inline SVG)
    store.save()
    admin = make_staff(Role.ADMIN, [store], username="ada")
    set_status(load_flow_text(FOLLOW_UP, "flows/follow-up.yaml").flow, "active")
    visit, _ = log_visit(store=store, actor=Actor(source="counter", staff=admin), bought=False,
                         reason="just_looking", contact_capture="taken", name="Anna Nowak",
                         contacts=[ContactInput("phone", "+48501234567")], language="en",
                         consent=ConsentGrant(contact=True, marketing=True))
    anna = visit.customer
    assert anna is not None
    base = live_server.url
    console = _watch(page)
    found: list[str] = []
    visited = []

    def visit_page(path: str, selector: str) -> None:
        page.goto(f"{base}{path}")
        page.wait_for_selector(selector)
        visited.append(path)
        found.extend(_violations(page))

    visit_page("/login/", "#id_username")
    _sign_in(page, base, "ada")  # a manager lands on the dashboard
    visit_page("/", "label:has(#outcome-bought)")
    # The counter's htmx contact check swaps a fragment in.
    page.click("label:has(#outcome-bought)")
    page.fill("#contact", "+48501234567")
    page.wait_for_selector("#contact-check :text('Anna Nowak')")
    assert page.locator("svg.qr").count() == 1
    found.extend(_violations(page))
    for path, selector in [
        ("/dashboard/", ".chart-canvas svg"),  # ECharts draws, with its DOM tooltips
        ("/visits/", "main"),
        ("/customers/", ".customer-list, table, main"),
        (f"/customers/{anna.pk}/", "#timeline"),
        ("/tasks/", "main"),
        ("/chains/", "main"),
        ("/dead-letters/", "main"),
        ("/profile/", "main form"),
        ("/admin/", "#content"),
        ("/admin/stores/store/", "#changelist"),
        (f"/admin/stores/store/{store.pk}/change/", "#store_form"),
        (f"/admin/stores/staff/{admin.pk}/change/", "#id_stores_from"),  # filter_horizontal JS
        ("/admin/visits/reason/", "#changelist"),
        ("/api/v1/docs", ".swagger-ui .opblock"),
    ]:
        visit_page(path, selector)
    # The chain page's live SMS counter is an htmx request too.
    visit_page("/chains/follow-up/", ".sms-editor summary")
    page.locator(".sms-editor summary").first.click()
    before = page.locator(".sms-size").first.inner_text()
    page.locator("textarea[name=text]").first.fill("Hello {{ customer.first_name }}! " * 6)
    page.wait_for_function("(b) => document.querySelector('.sms-size').innerText !== b", arg=before)
    found.extend(_violations(page))
    page.context.clear_cookies()
    visit_page(f"/u/{unsubscribe_token(anna.pk, 'sms')}", "form")
    visit_page("/admin/login/", "#id_username")
    assert len(visited) == 19
    assert found + console == []

